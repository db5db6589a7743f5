/**
 * CodeMirror (the decision tables' cell editor, the properties panel's expression editor)
 * styles itself through the `style-mod` package, which, in a document (not a shadow root),
 * writes a `<style>` element: the Content-Security-Policy (`style-src 'self'`) refuses it.
 * The bundle uses this module instead of `style-mod` (scripts/vendor-assets aliases it): the
 * same StyleModule, but mounted in a document it puts the rules in a constructed stylesheet
 * adopted by the document, which the policy allows, the way style-mod already does for
 * shadow roots.
 */

import { StyleModule as Base } from '../../../../node_modules/style-mod/src/style-mod.js';

const mounted = new WeakMap(); // document -> { sheet, modules }

export class StyleModule extends Base {
  static mount(root, modules, options) {
    const view = root && root.nodeType === 9 ? root.defaultView : null;
    if (!view || !view.CSSStyleSheet || !root.adoptedStyleSheets) {
      Base.mount(root, modules, options);
      return;
    }
    let state = mounted.get(root);
    if (!state) {
      state = { sheet: new view.CSSStyleSheet(), modules: [] };
      mounted.set(root, state);
    }
    let changed = false;
    let after = -1;
    for (const module of Array.isArray(modules) ? modules : [modules]) {
      const index = state.modules.indexOf(module);
      if (index < 0) {
        state.modules.splice(after + 1, 0, module);
        after += 1;
        changed = true;
      } else if (index < after) {
        // Later modules take precedence: keep the order the caller asks for.
        state.modules.splice(index, 1);
        state.modules.splice(after, 0, module);
        changed = true;
      } else {
        after = index;
      }
    }
    if (changed) {
      state.sheet.replaceSync(state.modules.map((module) => module.getRules()).join('\n'));
    }
    if (!root.adoptedStyleSheets.includes(state.sheet)) {
      root.adoptedStyleSheets = [state.sheet, ...root.adoptedStyleSheets];
    }
  }
}
