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
 * zoomed. A div with data-zoom-in-text, data-zoom-out-text, data-zoom-fit-text and
 * data-zoom-current-text (the case page's) gets buttons above it with these labels (zoom
 * in, zoom out, fit the whole diagram, back to the report's place) and is drawn at a
 * readable zoom instead (READABLE: fitted when that is at least as large; else centred on
 * the open task, or on where the report waits), kept when the div's size changes. data-bpmn-zoom holds the current zoom (1 = 100 %). Elements
 * (shapes or flows) listed get the canvas marker classes
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
  var READABLE = 0.75; // below this zoom the diagram's labels cannot be read
  var STEP = 1.25;
  var BUTTONS = [
    ['in', 'data-zoom-in-text', 'Zoom in', '+'],
    ['out', 'data-zoom-out-text', 'Zoom out', '\u2212'],
    ['fit', 'data-zoom-fit-text', 'Fit the whole diagram', '\u2922'],
    ['current', 'data-zoom-current-text', 'Show where the report is', '\u25CE'],
  ];

  // The shape the report is at: an open task, else where it waits, else the last done.
  function focus(registry, data) {
    var keys = ['current', 'waiting', 'completed'];
    for (var k = 0; k < keys.length; k++) {
      var found = (Array.isArray(data[keys[k]]) ? data[keys[k]] : []).map(function (id) {
        return typeof id === 'string' ? registry.get(id) : null;
      }).filter(function (shape) {
        return shape && !shape.waypoints && typeof shape.x === 'number';
      });
      if (found.length) {
        return keys[k] === 'completed' ? found[found.length - 1] : found[0];
      }
    }
    return null;
  }

  // Show `shape` in the middle of the div at `scale`.
  function centre(canvas, shape, scale) {
    var outer = canvas.viewbox().outer;
    var width = outer.width / scale;
    var height = outer.height / scale;
    canvas.viewbox({
      x: shape.x + shape.width / 2 - width / 2,
      y: shape.y + shape.height / 2 - height / 2,
      width: width,
      height: height,
    });
  }

  function toolbar(element, canvas, showPlace) {
    var bar = document.createElement('div');
    bar.className = 'diagram-zoom btn-group btn-group-sm';
    bar.setAttribute('role', 'group');
    BUTTONS.forEach(function (spec) {
      var button = document.createElement('button');
      var text = element.getAttribute(spec[1]) || spec[2];
      button.type = 'button';
      button.className = 'btn btn-light border';
      button.setAttribute('data-zoom', spec[0]);
      button.setAttribute('title', text);
      button.setAttribute('aria-label', text);
      button.textContent = spec[3];
      button.addEventListener('click', function () {
        var scale = canvas.zoom();
        if (spec[0] === 'in') {
          canvas.zoom(Math.min(scale * STEP, 4));
        } else if (spec[0] === 'out') {
          canvas.zoom(Math.max(scale / STEP, 0.1));
        } else if (spec[0] === 'fit') {
          canvas.zoom('fit-viewport', 'auto');
        } else {
          showPlace();
        }
      });
      bar.appendChild(button);
    });
    element.parentNode.insertBefore(bar, element);
  }

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
        var place = focus(viewer.get('elementRegistry'), data);
        var shown = false;
        // The readable zoom and the buttons are for a div that names the buttons; any
        // other is fitted whole, again whenever its size changes.
        var readable = element.hasAttribute('data-zoom-in-text');
        var showPlace = function () {
          canvas.zoom('fit-viewport', 'auto');
          if (!readable) {
            return;
          }
          if (canvas.zoom() < READABLE && place) {
            centre(canvas, place, READABLE);
          } else if (canvas.zoom() < READABLE) {
            canvas.zoom(READABLE, { x: 0, y: canvas.viewbox().outer.height / 2 });
          }
        };
        // Drawn only once the div has a size: fitting into 0 x 0 (a page being left, a
        // div hidden or not laid out yet) makes bpmn-js scale by a non-finite factor,
        // which the browser refuses with an error. The observer draws it once it has one,
        // and afterwards keeps the zoom the officer chose.
        var layout = function () {
          if (element.clientWidth > 0 && element.clientHeight > 0) {
            canvas.resized();
            if (!shown || !readable) {
              shown = true;
              showPlace();
            }
          }
        };
        viewer.get('eventBus').on('canvas.viewbox.changed', function (event) {
          element.setAttribute('data-bpmn-zoom', String(Math.round(event.viewbox.scale * 100) / 100));
        });
        layout();
        mark(viewer, data);
        if (readable) {
          toolbar(element, canvas, showPlace);
        }
        if (window.ResizeObserver) {
          new ResizeObserver(layout).observe(element);
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
