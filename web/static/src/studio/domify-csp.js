/**
 * The token simulation (bpmn-js-token-simulation) builds its controls, log and counters from
 * HTML strings whose `style="..."` attributes carry colours picked at run time (one per
 * simulated instance). The studio's Content-Security-Policy allows a style attribute in markup
 * only by the hash of its fixed text, so the browser would refuse those. The bundle uses this
 * module instead of `domify` (scripts/vendor-assets aliases it): the same function, but in the
 * token simulation's markup (its classes start with `bts-`) each style attribute is taken out
 * before the browser parses the markup and its declarations are set through the element's
 * `style` object (CSSOM), which the policy allows. Every other caller's markup is parsed
 * exactly as before.
 */

import base from '../../../../node_modules/domify/index.js';

const MARKER = 'data-aduan-style';
const TAG = /<[a-zA-Z][^<>]*>/g;
const STYLE = /(\s)style="([^"]*)"/g;

function applyStyles(root) {
  const nodes = [];
  if (root.nodeType === 1 && root.hasAttribute(MARKER)) nodes.push(root);
  if (root.querySelectorAll) nodes.push(...root.querySelectorAll(`[${MARKER}]`));
  for (const node of nodes) {
    for (const declaration of node.getAttribute(MARKER).split(';')) {
      const colon = declaration.indexOf(':');
      if (colon > 0) {
        node.style.setProperty(declaration.slice(0, colon).trim(), declaration.slice(colon + 1).trim());
      }
    }
    node.removeAttribute(MARKER);
  }
}

export default function domify(html, document) {
  if (typeof html !== 'string' || html.indexOf('bts-') < 0 || html.indexOf('style="') < 0) {
    return base(html, document);
  }
  const safe = html.replace(TAG, (tag) => tag.replace(STYLE, `$1${MARKER}="$2"`));
  const result = base(safe, document);
  if (result.nodeType === 11) {
    result.childNodes.forEach(applyStyles);
  } else {
    applyStyles(result);
  }
  return result;
}
