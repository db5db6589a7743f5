/*
 * diagram.js: show a complaint's BPMN diagram with where the case has been, is, and waits.
 * Plain ES2017, no build step. Needs the vendored bpmn-js NavigatedViewer (global BpmnJS:
 * vendor/bpmn-js/bpmn-navigated-viewer.production.min.js, with
 * vendor/bpmn-js/assets/diagram-js.css and bpmn-js.css) and js/app.js (Aduan.enhance)
 * loaded before it, with <script defer src>. The page also lists the case's history as
 * text: the diagram adds to it.
 *
 * Contract (see docs/web-frontend.md):
 *
 *   <div data-bpmn-src="/complaints/LAPOR-.../diagram.json"
 *        data-error-text="The diagram could not be shown."
 *        aria-label="...">
 *     (optional fallback content, replaced by the diagram)
 *   </div>
 *
 * The URL is fetched (same origin, with the session cookie) and must answer JSON:
 *   {"xml": "<bpmn:definitions ...>", "completed": [ids], "current": [ids], "waiting": [ids]}
 * The diagram is drawn fitted to the div (which aduan.css sizes) and can be panned and
 * zoomed. Elements (shapes or flows) listed get the canvas marker classes
 * "aduan-completed", "aduan-current" and "aduan-waiting" (styled in aduan.css); ids the
 * diagram does not have are ignored. If the fetch or the import fails, the div's content
 * becomes <p class="diagram-error"> with the data-error-text.
 *
 * The div's data-bpmn-state says "loading", then "ready" or "error"; once ready,
 * data-bpmn-warnings holds the number of import warnings (each also goes to console.warn).
 * The bpmn.io watermark that bpmn-js draws must stay visible (its licence).
 */
(function () {
  'use strict';

  var MARKERS = { completed: 'aduan-completed', current: 'aduan-current', waiting: 'aduan-waiting' };
  var DEFAULT_ERROR = 'The diagram could not be shown.';

  function fail(element, viewer, error) {
    if (viewer) {
      viewer.destroy();
    }
    element.textContent = '';
    var message = document.createElement('p');
    message.className = 'diagram-error';
    message.textContent = element.getAttribute('data-error-text') || DEFAULT_ERROR;
    element.appendChild(message);
    element.removeAttribute('aria-busy');
    element.setAttribute('data-bpmn-state', 'error');
    if (window.console) {
      console.warn('diagram.js: ' + element.getAttribute('data-bpmn-src') + ':', error);
    }
  }

  function mark(viewer, data) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    Object.keys(MARKERS).forEach(function (key) {
      (Array.isArray(data[key]) ? data[key] : []).forEach(function (id) {
        if (typeof id === 'string' && registry.get(id)) {
          canvas.addMarker(id, MARKERS[key]);
        }
      });
    });
  }

  function show(element) {
    var viewer = null;
    element.setAttribute('data-bpmn-state', 'loading');
    element.setAttribute('aria-busy', 'true');
    if (!window.BpmnJS) {
      fail(element, null, new Error('BpmnJS (the vendored bpmn-js viewer) is not loaded'));
      return;
    }
    fetch(element.getAttribute('data-bpmn-src'), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    }).then(function (response) {
      if (!response.ok) {
        throw new Error('HTTP ' + response.status);
      }
      return response.json();
    }).then(function (data) {
      if (!data || typeof data.xml !== 'string') {
        throw new Error('the answer has no "xml"');
      }
      element.textContent = '';
      viewer = new window.BpmnJS({ container: element });
      return viewer.importXML(data.xml).then(function (result) {
        var warnings = (result && result.warnings) || [];
        warnings.forEach(function (warning) {
          console.warn('diagram.js: import warning:', warning.message || warning);
        });
        var canvas = viewer.get('canvas');
        // Fitted only while the div has a size: fitting into 0 x 0 (a page being left, a
        // div hidden or not laid out yet) makes bpmn-js scale by a non-finite factor,
        // which the browser refuses with an error. The observer fits it once it has one.
        var fit = function () {
          if (element.clientWidth > 0 && element.clientHeight > 0) {
            canvas.resized();
            canvas.zoom('fit-viewport', 'auto');
          }
        };
        fit();
        mark(viewer, data);
        if (window.ResizeObserver) {
          new ResizeObserver(fit).observe(element);
        }
        element.removeAttribute('aria-busy');
        element.setAttribute('data-bpmn-warnings', String(warnings.length));
        element.setAttribute('data-bpmn-state', 'ready');
      });
    }).catch(function (error) {
      fail(element, viewer, error);
    });
  }

  window.Aduan.enhance('[data-bpmn-src]', show);
})();
