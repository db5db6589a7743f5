/**
 * The studio's bundle (built by scripts/vendor-assets into web/static/vendor/studio/studio.js
 * and studio.css): the BPMN and DMN modelers and viewers, the properties panel with Aduan's
 * groups, the `spiffworkflow` moddle extension, the token simulation and the Indonesian words,
 * as the global `window.AduanStudio`, which web/static/js/studio-modeler.js uses.
 */

import BpmnModeler from 'bpmn-js/lib/Modeler';
import BpmnViewer from 'bpmn-js/lib/NavigatedViewer';
import DmnModeler from 'dmn-js/lib/Modeler';
import DmnViewer from 'dmn-js/lib/NavigatedViewer';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import spiffworkflow from './spiffworkflow.json';
import aduanProperties, { renderFormPreview } from './properties.jsx';
import { translateModule, translator } from './translate.js';
import { simulationModules } from './simulation.js';

window.AduanStudio = Object.freeze({
  BpmnModeler,
  BpmnViewer,
  DmnModeler,
  DmnViewer,
  propertiesPanelModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, aduanProperties],
  simulationModules,
  moddleExtensions: { spiffworkflow },
  translateModule,
  translator,
  renderFormPreview,
});
