"""Every id of bpmn/complaint_lifecycle.bpmn and its DMN files that code refers to."""

from typing import Final

# --------------------------------------------------------------------------- files, process

BPMN_FILE: Final = "complaint_lifecycle.bpmn"
ROUTING_DMN_FILE: Final = "routing.dmn"
DEADLINES_DMN_FILE: Final = "deadlines.dmn"
DEPLOYMENT_FILES: Final = (BPMN_FILE, ROUTING_DMN_FILE, DEADLINES_DMN_FILE)  # one unit, in bpmn/

PROCESS_ID: Final = "complaint_lifecycle"

# --------------------------------------------------------------------------- user tasks

SCREEN_REPORT: Final = "screen_report"
DISPOSE_REPORT: Final = "dispose_report"
RESUME_REPORT: Final = "resume_report"
FOLLOW_UP: Final = "follow_up"
UNIT_FOLLOW_UP: Final = "unit_follow_up"
PROVIDE_INFORMATION: Final = "provide_information"
REVIEW_ANSWER: Final = "review_answer"
USER_TASKS: Final = (SCREEN_REPORT, DISPOSE_REPORT, RESUME_REPORT, FOLLOW_UP, UNIT_FOLLOW_UP,
                     PROVIDE_INFORMATION, REVIEW_ANSWER)
OFFICER_TASKS: Final = (SCREEN_REPORT, DISPOSE_REPORT, FOLLOW_UP, UNIT_FOLLOW_UP)
CITIZEN_TASKS: Final = (PROVIDE_INFORMATION, REVIEW_ANSWER)

# --------------------------------------------------------------------------- timers

# Non-interrupting timeCycle boundaries reading watch["watch_cycle"] (path: sla_watch, end).
WATCH_TIMERS: Final = {
    SCREEN_REPORT: "screen_report_watch",
    DISPOSE_REPORT: "dispose_report_watch",
    FOLLOW_UP: "follow_up_watch",
    UNIT_FOLLOW_UP: "unit_follow_up_watch",
    RESUME_REPORT: "resume_report_watch",  # watches the postponement's limit
}
# Interrupting timeDate boundaries reading sla_citizen["due_at"].
CITIZEN_DEADLINE_TIMERS: Final = {
    PROVIDE_INFORMATION: "provide_information_deadline",
    REVIEW_ANSWER: "review_answer_deadline",
}
REOPEN_WINDOW_TIMER: Final = "reopen_window_passed"  # "P30D" after CLOSED
REOPEN_GATEWAY: Final = "reopen_gateway"
REOPEN_WINDOW_DAYS: Final = 30

# --------------------------------------------------------------------------- messages

REOPEN_REQUESTED: Final = "reopen_requested"  # message name (Engine.send_message)
MESSAGE_REOPEN: Final = REOPEN_REQUESTED
AWAIT_REOPEN: Final = "await_reopen"  # its catch event; the payload's keys become task data
MESSAGES: Final = (REOPEN_REQUESTED,)

# --------------------------------------------------------------------------- host services

SERVICE_SET_STATUS: Final = "set_status"
SERVICE_SLA_START: Final = "sla_start"
SERVICE_SLA_PAUSE: Final = "sla_pause"
SERVICE_SLA_RESUME: Final = "sla_resume"
SERVICE_SLA_STOP: Final = "sla_stop"
SERVICE_SLA_WATCH: Final = "sla_watch"
SERVICE_ASSIGN_AGENCY: Final = "assign_agency"
SERVICE_OPERATORS: Final = (SERVICE_SET_STATUS, SERVICE_SLA_START, SERVICE_SLA_PAUSE,
                            SERVICE_SLA_RESUME, SERVICE_SLA_STOP, SERVICE_SLA_WATCH,
                            SERVICE_ASSIGN_AGENCY)

# assign_agency's `role` parameter
ROLE_OPD: Final = "opd"
ROLE_UNIT: Final = "unit"

# --------------------------------------------------------------------------- decisions (DMN)

ROUTE_REPORT: Final = "route_report"  # outputs authority, handler_level, agency_code
STEP_BUDGET: Final = "step_budget"  # output budget_days
BUDGET_DAYS: Final = "budget_days"  # step_budget's output: the step's working days
DECISIONS: Final = (ROUTE_REPORT, STEP_BUDGET)
ROUTING_TASK: Final = "determine_routing"  # the business rule task calling route_report

AUTHORITY_REGENCY: Final = "regency"
AUTHORITY_PROVINCIAL: Final = "provincial"
AUTHORITY_NATIONAL: Final = "national"
HANDLER_TECHNICAL_OFFICER: Final = "technical_officer"
HANDLER_OPD: Final = "opd"
HANDLER_REGIONAL_HEAD: Final = "regional_head"

# --------------------------------------------------------------------------- lanes

LANE_COMPLAINANT: Final = "complainant"
LANE_REGENCY_ADMIN: Final = "regency_admin"
LANE_OPD_LIAISON: Final = "opd_liaison"
LANE_TECHNICAL_UNIT: Final = "technical_unit"
LANE_SUPERVISOR: Final = "supervisor"
LANES: Final = {  # lane element id -> lane name (= candidate group role)
    "lane_complainant": LANE_COMPLAINANT,
    "lane_regency_admin": LANE_REGENCY_ADMIN,
    "lane_opd_liaison": LANE_OPD_LIAISON,
    "lane_technical_unit": LANE_TECHNICAL_UNIT,
    "lane_supervisor": LANE_SUPERVISOR,
}
TASK_LANES: Final = {
    SCREEN_REPORT: LANE_REGENCY_ADMIN,
    DISPOSE_REPORT: LANE_REGENCY_ADMIN,
    RESUME_REPORT: LANE_REGENCY_ADMIN,
    FOLLOW_UP: LANE_OPD_LIAISON,
    UNIT_FOLLOW_UP: LANE_TECHNICAL_UNIT,
    PROVIDE_INFORMATION: LANE_COMPLAINANT,
    REVIEW_ANSWER: LANE_COMPLAINANT,
}

# --------------------------------------------------------------------------- SLA steps

STEP_VERIFICATION: Final = "verification"
STEP_FOLLOW_UP: Final = "follow_up"
STEP_RESOLUTION: Final = "resolution"
STEP_INFO_REQUEST: Final = "info_request"
STEP_COMPLAINANT_WINDOW: Final = "complainant_window"
# Opened by sla_pause(postponed=True): how long a report stays Tertunda (not a sla_start step)
STEP_POSTPONEMENT: Final = "postponement"
STEPS: Final = (STEP_VERIFICATION, STEP_FOLLOW_UP, STEP_RESOLUTION, STEP_INFO_REQUEST,
                STEP_COMPLAINANT_WINDOW)
CITIZEN_STEPS: Final = (STEP_INFO_REQUEST, STEP_COMPLAINANT_WINDOW)

# --------------------------------------------------------------------------- statuses

STATUS_SUBMITTED: Final = "SUBMITTED"
STATUS_VERIFIED: Final = "VERIFIED"
STATUS_NEEDS_INFO: Final = "NEEDS_INFO"
STATUS_ARCHIVED: Final = "ARCHIVED"
STATUS_RETURNED: Final = "RETURNED"
STATUS_POSTPONED: Final = "POSTPONED"
STATUS_DISPOSED: Final = "DISPOSED"
STATUS_IN_PROGRESS: Final = "IN_PROGRESS"
STATUS_RESPONDED: Final = "RESPONDED"
STATUS_CLOSED: Final = "CLOSED"
STATUSES: Final = (STATUS_SUBMITTED, STATUS_VERIFIED, STATUS_NEEDS_INFO, STATUS_ARCHIVED,
                   STATUS_RETURNED, STATUS_POSTPONED, STATUS_DISPOSED, STATUS_IN_PROGRESS,
                   STATUS_RESPONDED, STATUS_CLOSED)
STATUS_LABELS: Final = {  # status -> label by language ("id" is what officers know)
    STATUS_SUBMITTED: {"id": "Belum Terverifikasi", "en": "Not yet verified"},
    STATUS_VERIFIED: {"id": "Terverifikasi", "en": "Verified"},
    STATUS_NEEDS_INFO: {"id": "Perlu Informasi", "en": "Needs information"},
    STATUS_ARCHIVED: {"id": "Arsip", "en": "Archived"},
    STATUS_RETURNED: {"id": "Bukan Wewenang", "en": "Not our authority"},
    STATUS_POSTPONED: {"id": "Tertunda", "en": "Postponed"},
    STATUS_DISPOSED: {"id": "Terdisposisi Belum Ditindaklanjuti",
                      "en": "Dispositioned, not yet followed up"},
    STATUS_IN_PROGRESS: {"id": "Sedang Diproses", "en": "In progress"},
    STATUS_RESPONDED: {"id": "Ditindaklanjuti", "en": "Followed up"},
    STATUS_CLOSED: {"id": "Selesai", "en": "Closed"},
}
# set_status reasons the diagram writes itself (the others are the officer's `reason`)
REASON_NO_ANSWER: Final = "no answer"
REASON_AUTO_CLOSE: Final = "auto"

# --------------------------------------------------------------------------- task data

# Start data (from submit_complaint)
START_VARIABLES: Final = ("complaint_id", "tracking_number", "classification", "misconduct",
                          "category", "severity", "road_status", "has_photo")
VAR_DECISION: Final = "decision"  # every deciding form's field
VAR_SLA: Final = "sla"  # last sla_start / sla_resume result of the officer step
VAR_SLA_CITIZEN: Final = "sla_citizen"  # last sla_start result of a citizen window
VAR_WATCH: Final = "watch"  # {"watch_cycle": ...} of the latest SLA service call

# Decision values, per task
VERIFY: Final = "verify"
ARCHIVE: Final = "archive"
REQUEST_INFO: Final = "request_info"
DISPOSE: Final = "dispose"
NOT_AUTHORITY: Final = "not_authority"
POSTPONE: Final = "postpone"
DELEGATE: Final = "delegate"
INTERIM: Final = "interim"
FINAL: Final = "final"
ACCEPT: Final = "accept"
UNSATISFIED: Final = "unsatisfied"
TASK_DECISIONS: Final = {
    SCREEN_REPORT: (VERIFY, ARCHIVE, REQUEST_INFO),
    DISPOSE_REPORT: (DISPOSE, NOT_AUTHORITY, POSTPONE, REQUEST_INFO),
    FOLLOW_UP: (DELEGATE, INTERIM, FINAL),
    UNIT_FOLLOW_UP: (INTERIM, FINAL),
    REVIEW_ANSWER: (ACCEPT, UNSATISFIED),
}
# dispose_report's `handler` field (optional, "opd" when left out): the OPD's liaison, or
# straight to one of its units (unit_code)
HANDLER_FIELD_OPD: Final = "opd"
HANDLER_FIELD_UNIT: Final = "unit"
RATINGS: Final = (1, 2, 3, 4, 5)
