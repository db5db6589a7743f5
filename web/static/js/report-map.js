/*
 * report-map.js: pick a report's location on a map. Plain ES2017, no build step.
 * Needs the vendored Leaflet (vendor/leaflet/leaflet.js and leaflet.css) and js/app.js
 * (Aduan.enhance) loaded before it; load them with <script defer src>. Without JavaScript
 * (or Leaflet) the two inputs are the whole form, and they stay the source of truth: the
 * map only reads and writes them.
 *
 * Contract (see docs/web-frontend.md):
 *
 *   <input id="lat" name="latitude" inputmode="decimal"> <input id="lon" name="longitude" ...>
 *   <div data-map-picker
 *        data-lat-input="lat"            id of the latitude <input>  (required)
 *        data-lon-input="lon"            id of the longitude <input> (required)
 *        data-tile-url="https://tiles.example/{z}/{x}/{y}.png"
 *                                        Leaflet URL template; empty: no tiles (a plain
 *                                        background and the scale; clicking still works)
 *        data-attribution="© OpenStreetMap contributors"   (text, not HTML)
 *        data-center="-1.2418,116.8372"  where to look when the inputs are empty
 *        data-zoom="13"                  the zoom to start at (default 13)
 *        aria-label="...">               (the template's words for the map)
 *   </div>
 *   <button type="button" data-locate hidden data-locate-error="Location unavailable">
 *   <p data-locate-status role="status"></p>      (optional, for that error)
 *
 * - A click (or tap) on the map, or dragging the marker, writes both inputs with 6 decimals
 *   and fires "input" and "change" on them. Enter on the focused map sets the map's centre.
 * - Typing coordinates into the inputs moves the marker (and the map, when the point is out
 *   of view); "-1,25" is read as -1.25. Emptying an input removes the marker.
 * - A [data-locate] button in the map div's parent element is shown (its `hidden` removed)
 *   when the browser has geolocation; a press sets the point to the device's position.
 *   On failure the button's data-locate-error text goes into the parent's [data-locate-status].
 * - The map div gets data-map-ready="true" once the map is there, and the class
 *   "map-no-tiles" when it has no tile layer.
 * - Marker images come from the vendored vendor/leaflet/images/ next to leaflet.js.
 */
(function () {
  'use strict';

  var L = window.L;
  var DECIMALS = 6;

  // Leaflet's default marker looks for its images next to its stylesheet; point it
  // explicitly at the vendored images beside the leaflet.js this page loaded.
  function useVendoredMarkerImages() {
    if (typeof L.Icon.Default.imagePath === 'string') {
      return;
    }
    var scripts = document.querySelectorAll('script[src]');
    for (var i = 0; i < scripts.length; i++) {
      var match = /^(.*\/)leaflet\.js(?:[?#].*)?$/.exec(scripts[i].src);
      if (match) {
        L.Icon.Default.imagePath = match[1] + 'images/';
        return;
      }
    }
  }

  function readNumber(input, limit) {
    var text = input.value.trim();
    if (text.indexOf('.') === -1) {
      text = text.replace(',', '.');
    }
    if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(text)) {
      return null;
    }
    var value = parseFloat(text);
    return Math.abs(value) <= limit ? value : null;
  }

  function parseCenter(text) {
    var parts = (text || '').split(',').map(parseFloat);
    if (parts.length === 2 && isFinite(parts[0]) && isFinite(parts[1])) {
      return L.latLng(parts[0], parts[1]);
    }
    return L.latLng(-1.25, 116.83); // Indonesia's new capital region, roughly
  }

  function addBaseLayers(map, element) {
    var url = (element.getAttribute('data-tile-url') || '').trim();
    if (url) {
      L.tileLayer(url, {
        attribution: escapeHtml(element.getAttribute('data-attribution') || ''),
        maxZoom: 19,
      }).addTo(map);
    } else {
      element.classList.add('map-no-tiles');
    }
    L.control.scale({ imperial: false }).addTo(map);
  }

  function escapeHtml(text) {
    var span = document.createElement('span');
    span.textContent = text;
    return span.innerHTML;
  }

  function setUp(element) {
    useVendoredMarkerImages();
    var latInput = document.getElementById(element.getAttribute('data-lat-input') || '');
    var lonInput = document.getElementById(element.getAttribute('data-lon-input') || '');
    if (!latInput || !lonInput) {
      return;
    }
    var zoom = parseInt(element.getAttribute('data-zoom'), 10);
    var map = L.map(element, { scrollWheelZoom: 'center', keyboard: true });
    var marker = null;
    var writing = false;

    addBaseLayers(map, element);

    function typedPoint() {
      var lat = readNumber(latInput, 90);
      var lon = readNumber(lonInput, 180);
      return lat === null || lon === null ? null : L.latLng(lat, lon);
    }

    function showMarker(point) {
      if (marker) {
        marker.setLatLng(point);
        return;
      }
      marker = L.marker(point, { draggable: true, keyboard: true, autoPan: true }).addTo(map);
      marker.on('dragend', function () {
        write(marker.getLatLng());
      });
    }

    function fire(input, type) {
      input.dispatchEvent(new Event(type, { bubbles: true }));
    }

    function write(point) {
      point = point.wrap();
      showMarker(point);
      writing = true;
      try {
        latInput.value = point.lat.toFixed(DECIMALS);
        lonInput.value = point.lng.toFixed(DECIMALS);
        [latInput, lonInput].forEach(function (input) {
          fire(input, 'input');
          fire(input, 'change');
        });
      } finally {
        writing = false;
      }
    }

    function follow() {
      if (writing) {
        return;
      }
      var point = typedPoint();
      if (!point) {
        if (marker) {
          marker.remove();
          marker = null;
        }
        return;
      }
      showMarker(point);
      if (!map.getBounds().contains(point)) {
        map.panTo(point);
      }
    }

    var start = typedPoint();
    map.setView(start || parseCenter(element.getAttribute('data-center')),
                isFinite(zoom) ? zoom : 13);
    if (start) {
      showMarker(start);
    }

    map.on('click', function (event) {
      write(event.latlng);
    });
    element.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && event.target === element) {
        event.preventDefault();
        write(map.getCenter());
      }
    });
    ['input', 'change'].forEach(function (type) {
      latInput.addEventListener(type, follow);
      lonInput.addEventListener(type, follow);
    });

    setUpLocate(element, map, write);

    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        map.invalidateSize();
      }).observe(element);
    }
    element.setAttribute('data-map-ready', 'true');
  }

  function setUpLocate(element, map, write) {
    var parent = element.parentElement;
    if (!parent || !navigator.geolocation) {
      return;
    }
    var buttons = parent.querySelectorAll('[data-locate]');
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener('click', function (event) {
        event.preventDefault();
        var status = parent.querySelector('[data-locate-status]');
        if (status) {
          status.textContent = '';
        }
        button.setAttribute('aria-busy', 'true');
        navigator.geolocation.getCurrentPosition(function (position) {
          button.removeAttribute('aria-busy');
          var point = L.latLng(position.coords.latitude, position.coords.longitude);
          map.setView(point, Math.max(map.getZoom(), 16));
          write(point);
        }, function () {
          button.removeAttribute('aria-busy');
          if (status) {
            status.textContent = button.getAttribute('data-locate-error') || '';
          }
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    });
  }

  if (L) {
    window.Aduan.enhance('[data-map-picker]', setUp);
  }
})();
