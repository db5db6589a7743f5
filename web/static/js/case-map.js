/*
 * case-map.js: the supervisors' map of open cases (/board/map). Plain ES2017, no build step.
 * Needs the vendored Leaflet (vendor/leaflet/leaflet.js and leaflet.css) and js/app.js
 * (Aduan.enhance) loaded before it, with <script defer src>.
 *
 * The server counts the open reports per square of a grid whose size follows the zoom
 * (workflows/case_map.py): whenever the map stops moving, the page asks
 * data-cells-url?zoom=Z&bbox=south,west,north,east for the squares in view and draws one
 * marker per square with its count (red when some of its reports are late), never one per
 * report. A marker's popup gives the counts and links to the lists of its reports
 * (data-cases-url?open=1&area=...).
 *
 * Contract:
 *
 *   <div data-case-map data-cells-url="/board/map/cells.json" data-cases-url="/cases"
 *        data-center="-1.25,116.83" data-zoom="11"
 *        data-tile-url="https://tiles.example/{z}/{x}/{y}.png" data-attribution="..."
 *        data-words-open="{count} open" data-words-late="{count} late"
 *        data-words-list-open="List the open reports" data-words-list-late="..."
 *        data-words-failed="The map could not load its counts"></div>
 *   <p id="case-map-status">          where the number of squares drawn is said
 *
 * The div gets data-map-ready="true" once drawn and data-cells="N" after each load.
 */
(function () {
  'use strict';

  var L = window.L;

  function words(element, name, count) {
    return (element.getAttribute('data-words-' + name) || '').replace('{count}', count);
  }

  function link(href, text) {
    var anchor = document.createElement('a');
    anchor.href = href;
    anchor.textContent = text;
    anchor.setAttribute('data-drill', '');
    return anchor;
  }

  function popup(element, cell) {
    var base = element.getAttribute('data-cases-url') + '?open=1&area=' + encodeURIComponent(cell.area);
    var box = document.createElement('div');
    box.className = 'case-map-popup';
    var counts = document.createElement('p');
    counts.className = 'mb-1';
    counts.textContent = words(element, 'open', cell.open)
      + (cell.late ? ' · ' + words(element, 'late', cell.late) : '');
    box.appendChild(counts);
    box.appendChild(link(base, element.getAttribute('data-words-list-open')));
    if (cell.late) {
      box.appendChild(document.createElement('br'));
      box.appendChild(link(base + '&deadline=any&deadline_state=overdue',
        element.getAttribute('data-words-list-late')));
    }
    return box;
  }

  function marker(element, cell) {
    var size = cell.open >= 1000 ? 'lg' : cell.open >= 50 ? 'md' : 'sm';
    var icon = L.divIcon({
      className: 'case-cell case-cell-' + size + (cell.late ? ' case-cell-late' : ''),
      html: String(cell.open),
      iconSize: size === 'lg' ? [52, 52] : size === 'md' ? [42, 42] : [32, 32],
    });
    var title = words(element, 'open', cell.open)
      + (cell.late ? ', ' + words(element, 'late', cell.late) : '');
    return L.marker([cell.lat, cell.lon], { icon: icon, title: title, alt: title, keyboard: true })
      .bindPopup(popup(element, cell));
  }

  function setUp(element) {
    var center = (element.getAttribute('data-center') || '0,0').split(',').map(parseFloat);
    var zoom = parseInt(element.getAttribute('data-zoom'), 10) || 11;
    var map = L.map(element, { scrollWheelZoom: 'center', keyboard: true })
      .setView(center, zoom);
    var url = (element.getAttribute('data-tile-url') || '').trim();
    if (url) {
      var span = document.createElement('span');
      span.textContent = element.getAttribute('data-attribution') || '';
      L.tileLayer(url, { attribution: span.innerHTML, maxZoom: 18 }).addTo(map);
    } else {
      element.classList.add('map-no-tiles');
    }
    L.control.scale({ imperial: false }).addTo(map);
    var layer = L.layerGroup().addTo(map);
    var status = document.getElementById('case-map-status');
    var asked = 0;

    function load() {
      var bounds = map.getBounds();
      var box = [Math.max(bounds.getSouth(), -90), Math.max(bounds.getWest(), -180),
        Math.min(bounds.getNorth(), 90), Math.min(bounds.getEast(), 180)]
        .map(function (value) { return value.toFixed(5); }).join(',');
      var zoomNow = Math.max(3, Math.min(18, Math.round(map.getZoom())));
      var number = ++asked;
      fetch(element.getAttribute('data-cells-url') + '?zoom=' + zoomNow + '&bbox=' + box,
        { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then(function (found) {
          if (number !== asked) {
            return; // a later move asked again
          }
          layer.clearLayers();
          found.cells.forEach(function (cell) { layer.addLayer(marker(element, cell)); });
          element.setAttribute('data-cells', String(found.cells.length));
          if (status) {
            status.textContent = words(element, 'open', found.open)
              + (found.late ? ' · ' + words(element, 'late', found.late) : '');
          }
        })
        .catch(function () {
          if (status) {
            status.textContent = element.getAttribute('data-words-failed');
          }
        });
    }

    map.on('moveend', load);
    load();
    element.setAttribute('data-map-ready', 'true');
  }

  if (L) {
    window.Aduan.enhance('[data-case-map]', setUp);
  }
})();
