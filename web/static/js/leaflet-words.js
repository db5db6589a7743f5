/*
 * leaflet-words.js: Leaflet's own control texts in the page's language. Plain ES2017, no
 * build step. Load it right after vendor/leaflet/leaflet.js and before the map scripts,
 * with <script defer src> and the texts on the tag itself (the leaflet_scripts macro of
 * templates/_macros.html writes both tags):
 *
 *   <script defer src=".../leaflet-words.js" data-zoom-in="Perbesar"
 *           data-zoom-out="Perkecil"></script>
 *
 * Every map made afterwards has zoom buttons titled (and named for screen readers) with
 * these words instead of Leaflet's English "Zoom in" / "Zoom out".
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var L = window.L;
  if (!script || !L || !L.Control || !L.Control.Zoom) {
    return;
  }
  var zoomIn = script.getAttribute('data-zoom-in');
  var zoomOut = script.getAttribute('data-zoom-out');
  var options = {};
  if (zoomIn) {
    options.zoomInTitle = zoomIn;
  }
  if (zoomOut) {
    options.zoomOutTitle = zoomOut;
  }
  L.Control.Zoom.mergeOptions(options);
})();
