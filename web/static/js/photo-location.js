/*
 * photo-location.js: offer the place a photo was taken as the report's location, with the
 * citizen's consent. Plain ES2017, no build step. Needs js/app.js (Aduan.enhance) loaded
 * before it, with <script defer src>; works with or without the map (report-map.js follows
 * the coordinate inputs).
 *
 * A phone writes where a photo was taken into the JPEG's EXIF (the GPS IFD). The server
 * strips it from every photo it keeps (workflows/images.py); this reads it in the browser,
 * before the upload, and only uses it when the citizen presses the button. Nothing is sent
 * anywhere by this script.
 *
 * Contract (see docs/web-frontend.md):
 *
 *   <div data-photo-location hidden
 *        data-file-input="f-attachments"    id of the file <input>
 *        data-lat-input="f-latitude"        id of the latitude <input>
 *        data-lon-input="f-longitude"       id of the longitude <input>
 *        data-text-found="... {file} ... {lat} ... {lon} ..."   what the offer says
 *        data-text-used="... {lat} ... {lon} ...">              said once it was used
 *     <p data-photo-location-text></p>
 *     <button type="button" data-photo-location-use>Use ...</button>
 *     <p data-photo-location-status role="status"></p>
 *   </div>
 *
 * On each change of the file input, the first chosen JPEG with a GPS position (its first
 * 256 KB are read) is offered: the box is shown with data-text-found filled in ({file}: the
 * file's name; {lat}, {lon}: 6 decimals). A press on the button writes both inputs, fires
 * "input" and "change" on them and says data-text-used in the status. Choosing files
 * without a position hides the box again. The box gets data-photo-lat/-lon while it offers
 * a position.
 */
(function () {
  'use strict';

  var READ_BYTES = 256 * 1024;
  var DECIMALS = 6;

  // The GPS position in a JPEG's EXIF, as {lat, lon}, or null.
  function gpsOf(buffer) {
    var view = new DataView(buffer);
    if (view.byteLength < 4 || view.getUint16(0) !== 0xFFD8) {
      return null; // not a JPEG
    }
    var offset = 2;
    while (offset + 4 <= view.byteLength) {
      var marker = view.getUint16(offset);
      var length = view.getUint16(offset + 2);
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) {
        return null; // no more headers: the image data begins
      }
      if (marker === 0xFFE1 && offset + 10 <= view.byteLength
          && view.getUint32(offset + 4) === 0x45786966) { // "Exif"
        return gpsInTiff(view, offset + 10, Math.min(view.byteLength, offset + 2 + length));
      }
      offset += 2 + length;
    }
    return null;
  }

  function gpsInTiff(view, start, end) {
    if (start + 8 > end) {
      return null;
    }
    var little = view.getUint16(start) === 0x4949; // "II": little-endian
    function u16(at) { return view.getUint16(start + at, little); }
    function u32(at) { return view.getUint32(start + at, little); }
    function inside(at, size) { return at >= 0 && start + at + size <= end; }

    function entries(ifd) {
      if (!inside(ifd, 2)) {
        return {};
      }
      var found = {};
      var count = u16(ifd);
      for (var i = 0; i < count; i++) {
        var at = ifd + 2 + i * 12;
        if (!inside(at, 12)) {
          break;
        }
        found[u16(at)] = { type: u16(at + 2), count: u32(at + 4), at: at + 8 };
      }
      return found;
    }

    function ascii(entry) {
      return entry && entry.type === 2 ? String.fromCharCode(view.getUint8(start + entry.at)) : '';
    }

    function degrees(entry) { // three RATIONALs: degrees, minutes, seconds
      if (!entry || entry.type !== 5 || entry.count !== 3) {
        return null;
      }
      var at = u32(entry.at);
      if (!inside(at, 24)) {
        return null;
      }
      var parts = [0, 1, 2].map(function (k) {
        var denominator = u32(at + k * 8 + 4);
        return denominator ? u32(at + k * 8) / denominator : NaN;
      });
      var value = parts[0] + parts[1] / 60 + parts[2] / 3600;
      return isFinite(value) ? value : null;
    }

    var first = entries(u32(4));
    var pointer = first[0x8825]; // the GPS IFD
    if (!pointer) {
      return null;
    }
    var gps = entries(u32(pointer.at));
    var lat = degrees(gps[2]);
    var lon = degrees(gps[4]);
    if (lat === null || lon === null || lat > 90 || lon > 180) {
      return null;
    }
    if (ascii(gps[1]) === 'S') {
      lat = -lat;
    }
    if (ascii(gps[3]) === 'W') {
      lon = -lon;
    }
    if (lat === 0 && lon === 0) {
      return null; // a camera without a fix writes zeros
    }
    return { lat: lat, lon: lon };
  }

  function firstPosition(files) {
    var jpegs = Array.prototype.filter.call(files, function (file) {
      return /^image\/jpe?g$/i.test(file.type) || /\.jpe?g$/i.test(file.name);
    });
    return jpegs.reduce(function (previous, file) {
      return previous.then(function (found) {
        if (found) {
          return found;
        }
        return file.slice(0, READ_BYTES).arrayBuffer().then(function (buffer) {
          var point = gpsOf(buffer);
          return point ? { file: file.name, lat: point.lat, lon: point.lon } : null;
        }, function () {
          return null;
        });
      });
    }, Promise.resolve(null));
  }

  function setUp(box) {
    var input = document.getElementById(box.getAttribute('data-file-input') || '');
    var latInput = document.getElementById(box.getAttribute('data-lat-input') || '');
    var lonInput = document.getElementById(box.getAttribute('data-lon-input') || '');
    var text = box.querySelector('[data-photo-location-text]');
    var button = box.querySelector('[data-photo-location-use]');
    var status = box.querySelector('[data-photo-location-status]');
    if (!input || !latInput || !lonInput || !button || !window.DataView) {
      return;
    }
    var offered = null;
    var asked = 0;

    function hide() {
      offered = null;
      box.hidden = true;
      box.removeAttribute('data-photo-lat');
      box.removeAttribute('data-photo-lon');
    }

    input.addEventListener('change', function () {
      var question = ++asked;
      hide();
      if (status) {
        status.textContent = '';
      }
      firstPosition(input.files || []).then(function (found) {
        if (question !== asked || !found) {
          return; // a later choice answers instead
        }
        offered = found;
        var values = { file: found.file, lat: found.lat.toFixed(DECIMALS),
                       lon: found.lon.toFixed(DECIMALS) };
        if (text) {
          text.textContent = window.Aduan.fill(box.getAttribute('data-text-found') || '', values);
        }
        box.setAttribute('data-photo-lat', values.lat);
        box.setAttribute('data-photo-lon', values.lon);
        box.hidden = false;
      });
    });

    button.addEventListener('click', function (event) {
      event.preventDefault();
      if (!offered) {
        return;
      }
      var values = { lat: offered.lat.toFixed(DECIMALS), lon: offered.lon.toFixed(DECIMALS) };
      latInput.value = values.lat;
      lonInput.value = values.lon;
      [latInput, lonInput].forEach(function (field) {
        field.dispatchEvent(new Event('input', { bubbles: true }));
        field.dispatchEvent(new Event('change', { bubbles: true }));
      });
      if (status) {
        status.textContent = window.Aduan.fill(box.getAttribute('data-text-used') || '', values);
      }
    });
  }

  window.Aduan.enhance('[data-photo-location]', setUp);
})();
