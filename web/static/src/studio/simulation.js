/**
 * The token simulation of the BPMN modeler (bpmn-js-token-simulation): its modeler module,
 * and `aduanSimulationWords`, which puts the simulation's controls, log and notifications
 * into the studio's language through the `translate` service (./translate.js).
 *
 * The simulation writes its English words straight into its markup (it has no `translate`
 * of its own), so its words are translated where they land: each node it adds under the
 * canvas (all of its user interface is there) has its texts and `title` / `aria-label`
 * looked up, exactly or by the templates below; anything else is left as it is. The diagram's
 * own SVG is never touched.
 */

import TokenSimulationModule from 'bpmn-js-token-simulation/lib/modeler';

// The simulation's texts with a part that varies, as translate.js templates ({name}).
const TEMPLATES = [
  'Set animation speed = {speed}',
  'Focus process instance {id}',
  '{name} started',
  '{name} finished',
  '{name} canceled',
];
// The simulation's own words, which the templates above may contain.
const WORDS = ['Slow', 'Normal', 'Fast', 'SubProcess'];
const PATTERNS = TEMPLATES.map((template) => {
  const names = [];
  const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/{(\w+)}/g, (whole, name) => {
    names.push(name);
    return '(.+)';
  });
  return { template, names, regex: new RegExp(`^${source}$`) };
});
const ATTRIBUTES = ['title', 'aria-label'];
const OURS = '[class*="bts-"]';

export function simulationTranslator(translate) {
  return function words(text) {
    const trimmed = text.trim();
    if (!trimmed) return text;
    const exact = translate(trimmed);
    if (exact !== trimmed) return text.replace(trimmed, exact);
    for (const { template, names, regex } of PATTERNS) {
      const match = regex.exec(trimmed);
      if (match) {
        const replacements = {};
        names.forEach((name, index) => {
          const part = match[index + 1];
          replacements[name] = WORDS.includes(part) ? translate(part) : part;
        });
        return text.replace(trimmed, translate(template, replacements));
      }
    }
    return text;
  };
}

function AduanSimulationWords(eventBus, canvas, translate) {
  const words = simulationTranslator(translate);
  if (words('Simulation Log') === 'Simulation Log') return; // English: the library's words

  function translateNode(node) {
    if (node.nodeType === 3) {
      const parent = node.parentElement;
      if (parent && parent.closest(OURS) && !parent.closest('svg')) {
        const text = words(node.data);
        if (text !== node.data) node.data = text;
      }
      return;
    }
    if (node.nodeType !== 1) return;
    const elements = [node, ...node.querySelectorAll('*')].filter((element) => element.closest(OURS));
    for (const element of elements) {
      for (const attribute of ATTRIBUTES) {
        const value = element.getAttribute(attribute);
        if (value) {
          const text = words(value);
          if (text !== value) element.setAttribute(attribute, text);
        }
      }
      if (element.namespaceURI === 'http://www.w3.org/1999/xhtml') {
        element.childNodes.forEach((child) => { if (child.nodeType === 3) translateNode(child); });
      }
    }
  }

  eventBus.on('diagram.init', 500, () => {
    const container = canvas.getContainer();
    translateNode(container);
    // Only nodes added later are looked at: what is already translated stays as it is.
    new MutationObserver((records) => {
      for (const record of records) record.addedNodes.forEach(translateNode);
    }).observe(container, { childList: true, subtree: true });
  });
}

AduanSimulationWords.$inject = ['eventBus', 'canvas', 'translate'];

/** The modules that give a BPMN Modeler the token simulation in the studio's language. */
export const simulationModules = [
  TokenSimulationModule,
  { __init__: ['aduanSimulationWords'], aduanSimulationWords: ['type', AduanSimulationWords] },
];
