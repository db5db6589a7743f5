/*
 * units-of.js: a unit picker that offers only the units of the agency chosen in another
 * picker (the case page's dispose form). Plain ES2017, no build step; needs js/app.js
 * (Aduan.enhance) loaded before it, with <script defer src>.
 *
 * Contract (see docs/web-frontend.md):
 *
 *   <select id="f-dispose-agency_code">...</select>
 *   <select data-units-of="f-dispose-agency_code">
 *     <option value="">— choose —</option>
 *     <optgroup label="Dinas PUPR" data-agency="dinas_pupr"><option ...></optgroup>
 *   </select>
 *
 * Whenever the agency changes (and at once), the optgroups of other agencies are hidden
 * and disabled, and a unit of another agency that was chosen is unchosen. Without
 * JavaScript every unit is listed, and the server refuses a unit of another agency (422,
 * naming the field).
 */
(function () {
  'use strict';

  function setUp(select) {
    var agency = document.getElementById(select.getAttribute('data-units-of'));
    if (!agency) {
      return;
    }
    var groups = Array.prototype.slice.call(select.querySelectorAll('optgroup[data-agency]'));

    function update() {
      var chosen = agency.value;
      groups.forEach(function (group) {
        var other = group.getAttribute('data-agency') !== chosen;
        group.hidden = other;
        group.disabled = other;
      });
      var option = select.options[select.selectedIndex];
      if (option && option.parentNode && option.parentNode.disabled) {
        select.value = '';
      }
    }

    agency.addEventListener('change', update);
    update();
  }

  window.Aduan.enhance('select[data-units-of]', setUp);
})();
