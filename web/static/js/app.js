/*
 * app.js: behaviour every page shares. Plain ES2017, no build step, no inline code.
 * Load it with <script defer src=".../js/app.js">, after htmx when the page uses htmx.
 * Everything here also works without htmx, and every page works with JavaScript off.
 *
 * Contracts (see docs/web-frontend.md):
 *
 *   <meta name="csrf-token" content="TOKEN">
 *       Every htmx request to this site carries the header "X-CSRFToken: TOKEN" (read at each
 *       request, so a swapped meta tag counts). Plain forms still need their hidden field.
 *
 *   data-confirm="Question?"   on a <form>, or on a <button>, <input type=submit> or <a>
 *       Asks window.confirm(question) first; "Cancel" stops the submission, the link or the
 *       htmx request. A submit button's question wins over its form's.
 *
 *   data-autosubmit            on a form control (or on a <form>: all its controls)
 *       A change submits the control's form with requestSubmit(), so validation, the submit
 *       event and htmx (hx-get/hx-post on the form) apply. Pair it with a submit button of
 *       class "hide-with-js", which stays for users without JavaScript.
 *
 *   <a href="/lapor" data-back>   a link back to the page before (e.g. on the 413 page)
 *       Goes back in the browser's history when there is one, so the form comes back with
 *       what the browser kept in it (typed text, never chosen files); else follows href.
 *
 *   <html class="js">          added at once, for CSS: .hide-with-js is hidden by aduan.css.
 *
 *   <table class="table-stack">   a table of figures that must fit a phone
 *       Each body and foot cell gets data-label, the text of its column's header (the last
 *       row of <thead>, colspans counted); below 576 px aduan.css draws each row as a card,
 *       one line per cell with its label before it, so no table scrolls sideways. Without
 *       JavaScript the table stays a table (scrolling in its .table-responsive box).
 *
 *   Aduan.fill(text, values)           "... {file} ..." with values.file put in (the
 *       widget scripts' sentences, written by the templates in the page's language).
 *
 *   Aduan.enhance(selector, setUp)     for the widget scripts (map, diagram, charts...)
 *       Calls setUp(element) once for every element matching the selector: those in the
 *       page (at once when the document is parsed, else on DOMContentLoaded) and those htmx
 *       swaps in later (htmx:load). An error in one element's setUp is logged with
 *       console.error and does not stop the others. Widget scripts load after app.js
 *       (<script defer> runs in document order; base.html puts app.js first).
 *
 * htmx settings made here for the Content-Security-Policy (script-src 'self', no eval,
 * no inline style): includeIndicatorStyles = false (aduan.css styles .htmx-indicator) and
 * allowEval = false (so no hx-on, no "js:" values and no [filter] in hx-trigger).
 */
(function () {
  'use strict';

  document.documentElement.classList.add('js');

  // ------------------------------------------------------------------ Aduan.enhance

  var Aduan = window.Aduan = window.Aduan || {};

  Aduan.enhance = function (selector, setUp) {
    var done = new WeakSet();

    function run(root) {
      if (!root || typeof root.querySelectorAll !== 'function') {
        return;
      }
      var elements = Array.prototype.slice.call(root.querySelectorAll(selector));
      if (typeof root.matches === 'function' && root.matches(selector)) {
        elements.unshift(root);
      }
      elements.forEach(function (element) {
        if (done.has(element)) {
          return;
        }
        done.add(element);
        try {
          setUp(element);
        } catch (error) {
          console.error('Aduan.enhance(' + selector + '):', error);
        }
      });
    }

    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', function () {
        run(document);
      });
    } else {
      run(document);
    }
    document.addEventListener('htmx:load', function (event) {
      run(event.target);
    });
  };

  // Aduan.fill("... {file} ...", {file: "a.jpg"}): a sentence the template wrote in the
  // page's language with {names} for the script to fill in; unknown names stay as they are.
  Aduan.fill = function (text, values) {
    return (text || '').replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : whole;
    });
  };

  if (window.htmx) {
    window.htmx.config.includeIndicatorStyles = false;
    window.htmx.config.allowEval = false;
  }

  // ------------------------------------------------------------------ CSRF header for htmx

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : null;
  }

  function sameOrigin(path) {
    try {
      return new URL(path, window.location.href).origin === window.location.origin;
    } catch (error) {
      return false;
    }
  }

  document.addEventListener('htmx:configRequest', function (event) {
    var token = csrfToken();
    if (token && sameOrigin(event.detail.path)) {
      event.detail.headers['X-CSRFToken'] = token;
    }
  });

  // ------------------------------------------------------------------ data-confirm

  // Listeners on window in the capture phase run before htmx's and the page's own, so a
  // "Cancel" stops them all. A submit button is asked on click; its form's submit event,
  // which the click causes at once, is then not asked again.
  var CONFIRMABLE = 'a[data-confirm], button[data-confirm], input[data-confirm]';
  var justConfirmed = null;

  function ask(element, event) {
    if (window.confirm(element.getAttribute('data-confirm'))) {
      return true;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    return false;
  }

  window.addEventListener('click', function (event) {
    var element = event.target instanceof Element ? event.target.closest(CONFIRMABLE) : null;
    if (!element || element.disabled) {
      return;
    }
    if (ask(element, event)) {
      justConfirmed = element;
      window.setTimeout(function () {
        if (justConfirmed === element) {
          justConfirmed = null;
        }
      }, 0);
    }
  }, true);

  window.addEventListener('submit', function (event) {
    var form = event.target;
    var submitter = event.submitter || null;
    if (submitter && submitter.hasAttribute('data-confirm')) {
      if (submitter !== justConfirmed) {
        ask(submitter, event);
      }
      justConfirmed = null;
    } else if (form instanceof HTMLFormElement && form.hasAttribute('data-confirm')) {
      ask(form, event);
    }
  }, true);

  // ------------------------------------------------------------------ table-stack

  Aduan.enhance('table.table-stack', function (table) {
    var head = table.tHead && table.tHead.rows.length
      ? table.tHead.rows[table.tHead.rows.length - 1] : null;
    if (!head) {
      return;
    }
    var names = [];
    Array.prototype.forEach.call(head.cells, function (cell) {
      for (var span = 0; span < (cell.colSpan || 1); span++) {
        names.push(cell.textContent.replace(/\s+/g, ' ').trim());
      }
    });
    var bodies = Array.prototype.slice.call(table.tBodies);
    if (table.tFoot) {
      bodies.push(table.tFoot);
    }
    bodies.forEach(function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var name = names[column];
          if (column > 0 && name && (cell.colSpan || 1) === 1) {
            cell.setAttribute('data-label', name);
          }
          column += cell.colSpan || 1;
        });
      });
    });
    table.classList.add('table-stacked');
  });

  // ------------------------------------------------------------------ data-back

  document.addEventListener('click', function (event) {
    var link = event.target instanceof Element ? event.target.closest('a[data-back]') : null;
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey
        || event.ctrlKey || event.shiftKey || event.altKey || window.history.length < 2) {
      return;
    }
    event.preventDefault();
    window.history.back();
  });

  // ------------------------------------------------------------------ data-autosubmit

  document.addEventListener('change', function (event) {
    var control = event.target;
    if (!(control instanceof Element) || !control.closest('[data-autosubmit]')) {
      return;
    }
    var form = control.form || control.closest('form');
    if (!form) {
      return;
    }
    if (typeof form.requestSubmit === 'function') {
      form.requestSubmit();
    } else {
      form.submit();
    }
  });
})();
