/*
 * charts.js: draw a chart above a table of figures; the table stays, as the accessible and
 * exact version. Plain ES2017, no build step. Needs the vendored Chart.js UMD build (global
 * Chart: vendor/chart.js/chart.umd.min.js) and js/app.js (Aduan.enhance) loaded before it,
 * with <script defer src>. Tables htmx swaps in later get their chart too.
 *
 * Contract (see docs/web-frontend.md):
 *
 *   <table data-chart="bar"          bar | line | doughnut | pie | bar-stacked
 *          data-chart-columns="1,3"  optional: which columns are series, counted from 0 =
 *                                    the label column (default: every column after it)
 *          data-chart-horizontal>    optional: bars along the y axis (long labels)
 *     <caption>Reports per month</caption>      becomes the chart's aria-label
 *     <thead><tr><th>Month</th><th>Received</th><th>Closed</th></tr></thead>
 *     <tbody>
 *       <tr><th>Jan</th><td data-value="1234">1.234</td><td>—</td></tr>
 *       <tr data-chart-skip>...</tr>        optional: a row left out of the chart
 *     </tbody>
 *     <tfoot>...</tfoot>                    never charted (totals)
 *   </table>
 *
 * Series names are the cells of the last row of <thead>; each <tbody> row is a label (its
 * first cell) and one value per series. A cell's data-value, when present, is the number;
 * otherwise its text is read, in the page's language: with lang "id", "1.234,5" is 1234.5;
 * otherwise "1,234.5" is. A "%" is ignored; anything else that is not a number ("—", "")
 * is a gap. Pie and doughnut charts draw one ring per series.
 *
 * The chart goes in <div class="chart-box"><canvas role="img" aria-label="caption"></div>
 * inserted before the table (before its .table-responsive wrapper, if it has one); aduan.css
 * gives .chart-box its height. The table gets data-chart-ready="true". Animations are off
 * when the user prefers reduced motion.
 *
 * Long labels (an agency's full name) are written on up to three lines of about 14
 * characters on a phone (a chart narrower than 576 px), 28 otherwise, the rest cut with
 * "…", so they fit beside the bars on a 390 px screen; the tooltip and the table keep them
 * whole.
 *
 * Drill-down: when the cell behind a bar, point or slice holds a link (a[href], the list of
 * the reports it counts), clicking the bar follows it, and the pointer says so.
 */
(function () {
  'use strict';

  // Okabe-Ito colours (distinguishable with the common colour-vision deficiencies),
  // led by a blue close to the site's primary colour.
  var PALETTE = ['#0b5ed7', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00',
                 '#6f42c1', '#6c757d'];
  var TYPES = { bar: 'bar', line: 'line', doughnut: 'doughnut', pie: 'pie', 'bar-stacked': 'bar' };

  function pageLanguage(element) {
    var holder = element.closest('[lang]');
    return (holder && holder.getAttribute('lang')) || 'id';
  }

  function readNumber(cell, decimalComma) {
    var raw = cell.getAttribute('data-value');
    var text = (raw !== null ? raw : cell.textContent).replace(/[\s\u00a0\u202f%]/g, '');
    if (raw === null) {
      text = decimalComma ? text.replace(/\./g, '').replace(',', '.') : text.replace(/,/g, '');
    }
    text = text.replace(/^\u2212/, '-'); // a typographic minus sign
    return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) ? parseFloat(text) : null;
  }

  var MAX_LINES = 3;

  // A label as lines of at most `width` characters (words kept whole where they fit).
  function wrapLabel(text, width) {
    var lines = [];
    var line = '';
    String(text).split(/\s+/).forEach(function (word) {
      while (word.length > width) {  // a word longer than a line is cut
        if (line) {
          lines.push(line);
          line = '';
        }
        lines.push(word.slice(0, width - 1) + '-');
        word = word.slice(width - 1);
      }
      if (line && (line + ' ' + word).length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + ' ' + word : word;
      }
    });
    if (line) {
      lines.push(line);
    }
    if (lines.length > MAX_LINES) {
      lines = lines.slice(0, MAX_LINES);
      lines[MAX_LINES - 1] = lines[MAX_LINES - 1].slice(0, width - 1) + '\u2026';
    }
    return lines.length > 1 ? lines : lines[0];
  }

  function labelTick(value) {
    // `this` is the category scale; its chart's width decides the line length.
    return wrapLabel(this.getLabelForValue(value), this.chart.width < 576 ? 14 : 28);
  }

  function withAlpha(hex, alpha) {
    var value = parseInt(hex.slice(1), 16);
    return 'rgba(' + (value >> 16) + ',' + ((value >> 8) & 255) + ',' + (value & 255) + ','
      + alpha + ')';
  }

  function readTable(table) {
    var decimalComma = /^id\b/i.test(pageLanguage(table));
    var headRows = table.tHead ? table.tHead.rows : [];
    var names = headRows.length ? headRows[headRows.length - 1].cells : [];
    var rows = [];
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        if (!row.hasAttribute('data-chart-skip') && row.cells.length > 1) {
          rows.push(row);
        }
      });
    });
    var width = rows.reduce(function (most, row) {
      return Math.max(most, row.cells.length);
    }, 0);
    var columns = (table.getAttribute('data-chart-columns') || '').split(',')
      .map(function (text) { return parseInt(text, 10); })
      .filter(function (index) { return index >= 1 && index < width; });
    if (!columns.length) {
      for (var index = 1; index < width; index++) {
        columns.push(index);
      }
    }
    return {
      rows: rows,
      columns: columns,
      labels: rows.map(function (row) { return row.cells[0].textContent.trim(); }),
      series: columns.map(function (column) {
        return {
          name: names[column] ? names[column].textContent.trim() : String(column),
          values: rows.map(function (row) {
            return row.cells[column] ? readNumber(row.cells[column], decimalComma) : null;
          }),
        };
      }),
    };
  }

  // The link in the table cell behind a chart element (its row, its series' column).
  function linkOf(figures, element) {
    var row = figures.rows[element.index];
    var column = figures.columns[element.datasetIndex];
    var cell = row && row.cells[column];
    var link = cell && cell.querySelector('a[href]');
    return link ? link.getAttribute('href') : null;
  }

  function configuration(kind, table, figures) {
    var round = kind === 'pie' || kind === 'doughnut';
    var stacked = kind === 'bar-stacked';
    var horizontal = table.hasAttribute('data-chart-horizontal') && !round;
    var reduceMotion = window.matchMedia
      && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    var datasets = figures.series.map(function (series, index) {
      var colour = PALETTE[index % PALETTE.length];
      if (round) {
        return {
          label: series.name,
          data: series.values,
          backgroundColor: figures.labels.map(function (label, slice) {
            return PALETTE[slice % PALETTE.length];
          }),
          borderColor: '#ffffff',
          borderWidth: 2,
        };
      }
      return {
        label: series.name,
        data: series.values,
        backgroundColor: kind === 'line' ? withAlpha(colour, 0.15) : colour,
        borderColor: colour,
        borderWidth: kind === 'line' ? 2 : 0,
        pointRadius: kind === 'line' ? 3 : undefined,
        tension: 0.2,
        spanGaps: false,
      };
    });
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      locale: pageLanguage(table),
      animation: reduceMotion ? false : { duration: 400 },
      plugins: {
        legend: { display: round || datasets.length > 1, position: 'bottom' },
      },
    };
    if (!round) {
      var valueAxis = { beginAtZero: true, stacked: stacked, ticks: { precision: 0 } };
      var labelAxis = { stacked: stacked, ticks: { autoSkip: true, callback: labelTick } };
      options.indexAxis = horizontal ? 'y' : 'x';
      options.scales = horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis };
    }
    options.onClick = function (event, elements) {
      var href = elements.length ? linkOf(figures, elements[0]) : null;
      if (href) {
        window.location.assign(href);
      }
    };
    options.onHover = function (event, elements) {
      var target = event.native && event.native.target;
      if (target) {
        var href = elements.length ? linkOf(figures, elements[0]) : null;
        target.classList.toggle('chart-drill', Boolean(href));
      }
    };
    return { type: TYPES[kind], data: { labels: figures.labels, datasets: datasets }, options: options };
  }

  function draw(table) {
    var kind = table.getAttribute('data-chart');
    if (!Object.prototype.hasOwnProperty.call(TYPES, kind)) {
      return;
    }
    var figures = readTable(table);
    if (!figures.labels.length || !figures.series.length) {
      return;
    }
    var box = document.createElement('div');
    box.className = 'chart-box chart-' + kind;
    var canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    var caption = table.caption ? table.caption.textContent.trim() : '';
    if (caption) {
      canvas.setAttribute('aria-label', caption);
    }
    box.appendChild(canvas);
    var wrapper = table.parentElement;
    var anchor = wrapper && wrapper.classList.contains('table-responsive') ? wrapper : table;
    anchor.parentNode.insertBefore(box, anchor);
    new window.Chart(canvas, configuration(kind, table, figures));
    table.setAttribute('data-chart-ready', 'true');
  }

  if (window.Chart) {
    window.Aduan.enhance('table[data-chart]', draw);
  }
})();
