/*
 * studio-diff.js: the studio's comparison of two versions, drawn on their diagrams.
 * Plain ES2017, no build step. Needs the vendored bpmn-js NavigatedViewer (global BpmnJS)
 * and js/app.js (Aduan.enhance), loaded before it with <script defer src>.
 *
 * Contract (web/templates/studio/diff.html):
 *
 *   <div id="studio-diff" data-diff-src="/studio/processes/<pid>/diff/diagram.json?from=1&to=2"
 *        data-error-text="...">
 *     <div data-diff-side="new"></div>   the new version, added/changed/moved coloured
 *     <div data-diff-side="old"></div>   the old version, removed/changed coloured
 *   </div>
 *   <tr data-element-id="..." data-diff-side="new|old" tabindex="0"> rows of the changes
 *
 * The URL answers {"new": {"xml", "added", "changed", "moved"}, "old": {"xml", "removed",
 * "changed"}}. Each listed element gets the canvas marker class "diff-added",
 * "diff-changed", "diff-moved" or "diff-removed" (styled in css/studio-diff.css); ids a
 * diagram does not have are ignored. Clicking a row (or Enter on it) selects its element,
 * zooms in (to 100 %) if the diagram is fitted smaller, scrolls the diagram to the element
 * and brings the diagram into view. The container's
 * data-diff-state says "loading", then "ready" or "error" (the error text replaces the
 * diagrams; the tables stay). The bpmn.io watermark stays visible (its licence).
 */
(function () {
  'use strict';

  var MARKERS = {
    new: { added: 'diff-added', changed: 'diff-changed', moved: 'diff-moved' },
    old: { removed: 'diff-removed', changed: 'diff-changed' },
  };

  function draw(div, data, markers) {
    div.textContent = '';
    var viewer = new window.BpmnJS({ container: div });
    return viewer.importXML(data.xml).then(function () {
      var canvas = viewer.get('canvas');
      var registry = viewer.get('elementRegistry');
      var fit = function () {
        if (div.clientWidth > 0 && div.clientHeight > 0) {
          canvas.resized();
          canvas.zoom('fit-viewport', 'auto');
        }
      };
      fit();
      if (window.ResizeObserver) {
        new ResizeObserver(fit).observe(div);
      }
      var marked = 0;
      Object.keys(markers).forEach(function (key) {
        (Array.isArray(data[key]) ? data[key] : []).forEach(function (id) {
          if (typeof id === 'string' && registry.get(id)) {
            canvas.addMarker(id, markers[key]);
            marked += 1;
          }
        });
      });
      div.setAttribute('data-diff-marked', String(marked));
      return viewer;
    });
  }

  function focus(viewer, div, id) {
    var registry = viewer.get('elementRegistry');
    var element = registry.get(id);
    if (!element) {
      return;
    }
    var canvas = viewer.get('canvas');
    registry.forEach(function (other) {
      canvas.removeMarker(other.id, 'diff-focus');
    });
    canvas.addMarker(id, 'diff-focus');
    try {
      viewer.get('selection').select(element);
    } catch (ignored) {
      // a viewer without selection still shows the focus marker
    }
    if (canvas.zoom() < 0.8) {
      canvas.zoom(1); // the whole diagram fitted is too small to read one element
    }
    if (typeof canvas.scrollToElement === 'function') {
      canvas.scrollToElement(element);
    }
    div.scrollIntoView({ block: 'center' });
  }

  function show(container) {
    container.setAttribute('data-diff-state', 'loading');
    container.setAttribute('aria-busy', 'true');
    var viewers = {};
    var fail = function (error) {
      Object.keys(viewers).forEach(function (side) { viewers[side].destroy(); });
      container.querySelectorAll('[data-diff-side]').forEach(function (div) {
        div.textContent = '';
      });
      var message = document.createElement('p');
      message.className = 'diagram-error';
      message.textContent = container.getAttribute('data-error-text') || 'The diagrams could not be shown.';
      container.insertBefore(message, container.firstChild);
      container.removeAttribute('aria-busy');
      container.setAttribute('data-diff-state', 'error');
      console.warn('studio-diff.js:', error);
    };
    if (!window.BpmnJS) {
      fail(new Error('BpmnJS (the vendored bpmn-js viewer) is not loaded'));
      return;
    }
    fetch(container.getAttribute('data-diff-src'), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    }).then(function (response) {
      if (!response.ok) {
        throw new Error('HTTP ' + response.status);
      }
      return response.json();
    }).then(function (data) {
      var drawn = [];
      container.querySelectorAll('[data-diff-side]').forEach(function (div) {
        var side = div.getAttribute('data-diff-side');
        if (!data[side] || typeof data[side].xml !== 'string' || !data[side].xml) {
          div.textContent = '';
          return;
        }
        drawn.push(draw(div, data[side], MARKERS[side] || {}).then(function (viewer) {
          viewers[side] = viewer;
        }));
      });
      return Promise.all(drawn);
    }).then(function () {
      document.querySelectorAll('tr[data-element-id][data-diff-side]').forEach(function (row) {
        var go = function () {
          var side = row.getAttribute('data-diff-side');
          var div = container.querySelector('[data-diff-side="' + side + '"]');
          if (viewers[side] && div) {
            focus(viewers[side], div, row.getAttribute('data-element-id'));
          }
        };
        row.classList.add('diff-row-link');
        row.addEventListener('click', go);
        row.addEventListener('keydown', function (event) {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            go();
          }
        });
      });
      container.removeAttribute('aria-busy');
      container.setAttribute('data-diff-state', 'ready');
    }).catch(fail);
  }

  window.Aduan.enhance('#studio-diff[data-diff-src]', show);
})();
