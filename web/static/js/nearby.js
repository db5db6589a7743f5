/* Nearby open reports on the report form (web/pages/nearby.py).
 *
 * When the latitude, longitude and category are all filled (by the map or by hand), asks
 * GET <data-nearby-url>?lat=&lon=&category= and lists the open reports of that category
 * nearby in #nearby, each with a "me too" button that POSTs to <data-me-too-url> (with the
 * session's CSRF token, and the phone and e-mail typed in the form, if any). Hidden when
 * there is nothing nearby or the lookup fails: the form works without it.
 */
(function () {
  'use strict';

  function setUp(box) {
    var lat = document.getElementById('f-latitude');
    var lon = document.getElementById('f-longitude');
    var category = document.getElementById('f-category');
    var list = box.querySelector('[data-nearby-list]');
    if (!lat || !lon || !category || !list) { return; }
    var asked = '';

    function value(id) {
      var input = document.getElementById(id);
      return input ? input.value.trim() : '';
    }

    function meToo(item, button, tracking) {
      var body = new URLSearchParams();
      body.set('phone', value('f-reporter_phone'));
      body.set('email', value('f-reporter_email'));
      button.disabled = true;
      fetch(box.getAttribute('data-me-too-url').replace('TRACKING', encodeURIComponent(tracking)), {
        method: 'POST', credentials: 'same-origin', body: body,
        headers: { 'X-CSRF-Token': box.getAttribute('data-csrf'), 'Accept': 'application/json' }
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (answer) {
        var note = document.createElement('p');
        note.className = 'small mb-0';
        note.setAttribute('role', 'status');
        if (answer.ok) {
          note.textContent = box.getAttribute('data-counted');
        } else {
          var errors = (answer.data.error && answer.data.error.field_errors) || {};
          note.textContent = Object.keys(errors).map(function (k) { return errors[k]; }).join(' ') ||
            (answer.data.error && answer.data.error.message) || '';
          note.className += ' text-danger';
          button.disabled = false;
        }
        item.appendChild(note);
      });
    }

    function show(reports) {
      list.textContent = '';
      reports.forEach(function (report) {
        var item = document.createElement('li');
        item.className = 'mb-2';
        var title = document.createElement('strong');
        title.textContent = report.title;
        var meta = document.createElement('span');
        meta.className = 'd-block small';
        meta.textContent = report.tracking_number + ' · ' + report.status_label + ' · ' +
          box.getAttribute('data-metres').replace('N', String(report.distance_m));
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'btn btn-sm btn-outline-primary mt-1';
        button.textContent = box.getAttribute('data-me-too');
        button.addEventListener('click', function () { meToo(item, button, report.tracking_number); });
        item.appendChild(title);
        item.appendChild(meta);
        item.appendChild(button);
        list.appendChild(item);
      });
      box.hidden = reports.length === 0;
    }

    function look() {
      var query = new URLSearchParams({ lat: lat.value.trim(), lon: lon.value.trim(),
                                        category: category.value });
      if (!lat.value.trim() || !lon.value.trim() || !category.value || query.toString() === asked) {
        if (!lat.value.trim() || !lon.value.trim() || !category.value) { box.hidden = true; }
        return;
      }
      asked = query.toString();
      fetch(box.getAttribute('data-nearby-url') + '?' + asked, {
        credentials: 'same-origin', headers: { 'Accept': 'application/json' }
      }).then(function (response) {
        return response.ok ? response.json() : { reports: [] };
      }).then(function (data) { show(data.reports || []); })
        .catch(function () { box.hidden = true; });
    }

    [lat, lon, category].forEach(function (input) { input.addEventListener('change', look); });
    look();
  }

  document.addEventListener('DOMContentLoaded', function () {
    var box = document.getElementById('nearby');
    if (box) { setUp(box); }
  });
}());
