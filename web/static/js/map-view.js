/*
 * map-view.js: a small read-only map with one marker (where a report was made).
 * Plain ES2017, no build step. Needs the vendored Leaflet (vendor/leaflet/leaflet.js and
 * leaflet.css) and js/app.js (Aduan.enhance) loaded before it; load them with
 * <script defer src>. The template shows the coordinates as text too: the map is an
 * addition, not the only way to read them.
 *
 * Contract (see docs/web-frontend.md):
 *
 *   <div data-map-view
 *        data-lat="-1.241800" data-lon="116.837200"   the point (required; else no map)
 *        data-tile-url="https://tiles.example/{z}/{x}/{y}.png"   empty: no tiles
 *        data-attribution="© OpenStreetMap contributors"         (text, not HTML)
 *        data-zoom="16"                               (default 16)
 *        aria-label="...">
 *   </div>
 *
 * The marker cannot be moved; the map can be zoomed with its buttons (and dragged, except
 * on touch screens, where a drag scrolls the page). The div gets data-map-ready="true",
 * and the class "map-no-tiles" when it has no tile layer.
 */
(function () {
  'use strict';

  var L = window.L;

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

  function escapeHtml(text) {
    var span = document.createElement('span');
    span.textContent = text;
    return span.innerHTML;
  }

  function setUp(element) {
    useVendoredMarkerImages();
    var lat = parseFloat(element.getAttribute('data-lat'));
    var lon = parseFloat(element.getAttribute('data-lon'));
    if (!isFinite(lat) || !isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      return;
    }
    var zoom = parseInt(element.getAttribute('data-zoom'), 10);
    var point = L.latLng(lat, lon);
    var map = L.map(element, {
      scrollWheelZoom: false,
      dragging: !L.Browser.mobile,
      touchZoom: true,
      keyboard: true,
    }).setView(point, isFinite(zoom) ? zoom : 16);

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
    L.marker(point, { interactive: false, keyboard: false }).addTo(map);

    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        map.invalidateSize();
        map.setView(point, map.getZoom(), { animate: false });
      }).observe(element);
    }
    element.setAttribute('data-map-ready', 'true');
  }

  if (L) {
    window.Aduan.enhance('[data-map-view]', setUp);
  }
})();
