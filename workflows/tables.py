"""Every table of the domain on the metadata: importing this module registers all of them.

workflows/models.py holds the core tables; later areas keep theirs in modules of their own.
The migrations' environment, the schema test and the test fixtures import this one module,
so a new models module is added here and nowhere else."""

from __future__ import annotations

import workflows.account_models
import workflows.admin_models
import workflows.category_models
import workflows.desk_models
import workflows.draft_models
import workflows.lifecycle_models
import workflows.metoo_models
import workflows.models
import workflows.open311_models
import workflows.page_count_models
import workflows.poster_models
import workflows.readcount_models
import workflows.revision_models
import workflows.settings_models
import workflows.sms_models
import workflows.speed_models
import workflows.stats_fact_models
import workflows.stats_models
import workflows.stats_month_models
import workflows.stats_running_models
import workflows.whatsapp_models

MODULES = (workflows.account_models, workflows.admin_models, workflows.category_models,
           workflows.desk_models, workflows.draft_models, workflows.lifecycle_models,
           workflows.metoo_models, workflows.models, workflows.open311_models,
           workflows.page_count_models, workflows.poster_models, workflows.readcount_models,
           workflows.revision_models, workflows.settings_models, workflows.sms_models,
           workflows.speed_models, workflows.stats_fact_models,
           workflows.stats_month_models, workflows.stats_models, workflows.stats_running_models,
           workflows.whatsapp_models)
