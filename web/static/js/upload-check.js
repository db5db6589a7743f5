/*
 * upload-check.js: check chosen files against the server's limits before a form is sent,
 * so an upload the server would refuse (413, or "too large") never leaves the browser and
 * nothing the user typed is lost. Plain ES2017, no build step. Needs js/app.js
 * (Aduan.enhance) loaded before it, with <script defer src>. The server checks again:
 * this only saves the round trip and the typed text.
 *
 * Contract (see docs/web-frontend.md); the template renders the limits from the server's
 * settings and the texts in the page's language (the _macros.html macro upload_check):
 *
 *   <input type="file" name="attachments" multiple
 *          data-max-files="5"                  at most this many files
 *          data-max-file-bytes="10485760"      each file at most this many bytes
 *          data-max-total-bytes="52428800"     all files of this input together
 *          data-upload-message="f-attachments-limit"   id of the element for the message
 *          data-text-too-many="... {count} ..."
 *          data-text-file-too-large="... {file} ... {size} ..."
 *          data-text-total-too-large="... {size} ...">
 *   <div id="f-attachments-limit" aria-live="assertive"></div>   (present, empty)
 *
 * On each change of the input, and when its form is submitted, the chosen files are
 * checked. Each problem is one sentence in the message element ({count}: the number of
 * files; {file}: a file's name; {size}: megabytes, one decimal, rounded up, written for the
 * page's lang). While there is a problem the input has class "is-invalid" and
 * aria-invalid="true", and a submission is stopped (before htmx or other listeners see it)
 * with the focus moved to the input. The message clears when the files are fine again.
 */
(function () {
  'use strict';

  var MB = 1024 * 1024;

  function limit(input, name) {
    var value = parseInt(input.getAttribute(name), 10);
    return isFinite(value) && value > 0 ? value : Infinity;
  }

  function megabytes(bytes) {
    var value = Math.ceil((bytes / MB) * 10) / 10;
    var lang = document.documentElement.lang || undefined;
    try {
      return new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(value);
    } catch (error) {
      return String(value);
    }
  }

  function problems(input) {
    var files = Array.prototype.slice.call(input.files || []);
    var found = [];
    if (files.length > limit(input, 'data-max-files')) {
      found.push(window.Aduan.fill(input.getAttribute('data-text-too-many'),
                                   { count: String(files.length) }));
    }
    var total = 0;
    files.forEach(function (file) {
      total += file.size;
      if (file.size > limit(input, 'data-max-file-bytes')) {
        found.push(window.Aduan.fill(input.getAttribute('data-text-file-too-large'),
                                     { file: file.name, size: megabytes(file.size) }));
      }
    });
    if (total > limit(input, 'data-max-total-bytes')) {
      found.push(window.Aduan.fill(input.getAttribute('data-text-total-too-large'),
                                   { size: megabytes(total) }));
    }
    return found;
  }

  function show(input, found) {
    var box = document.getElementById(input.getAttribute('data-upload-message') || '');
    if (box) {
      box.textContent = '';
      found.forEach(function (text) {
        var line = document.createElement('p');
        line.className = 'mb-1';
        line.textContent = text;
        box.appendChild(line);
      });
    }
    if (found.length) {
      input.classList.add('is-invalid');
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('data-upload-invalid', 'true');
    } else if (input.hasAttribute('data-upload-invalid')) {
      // only undo what this script did: a server's error on the field stays
      input.classList.remove('is-invalid');
      input.removeAttribute('aria-invalid');
      input.removeAttribute('data-upload-invalid');
    }
  }

  function setUp(input) {
    input.addEventListener('change', function () {
      show(input, problems(input));
    });
    var form = input.form;
    if (!form) {
      return;
    }
    form.addEventListener('submit', function (event) {
      var found = problems(input);
      show(input, found);
      if (found.length) {
        event.preventDefault();
        event.stopImmediatePropagation();
        input.focus();
      }
    }, true);
  }

  window.Aduan.enhance('input[type=file][data-max-file-bytes]', setUp);
})();
