/*
 * The studio's modeler page: the draft's .bpmn files in the BPMN modeler (with the properties
 * panel), its .dmn files in the DMN modeler, one tab per file; save, check, and the check's
 * findings as markers on their elements and as a list that selects them; and the token
 * simulation of a BPMN tab (the "Simulate" button), a quick play that changes nothing.
 *
 *   <div id="studio-modeler" data-files-url="..." data-save-url="..." data-validate-url="..."
 *        data-services-url="..." data-lang="id|en" data-read-only="true|false"
 *        data-csrf="..."></div>
 *
 * Needs web/static/vendor/studio/studio.js (window.AduanStudio) and studio.css. The JSON the
 * URLs answer is described in docs/designers.md ("The modeler"). The div's data-studio-state
 * says "loading", then "ready" or "error"; data-dirty is "true" while there are unsaved edits;
 * data-simulating is "true" while the shown BPMN tab's simulation runs.
 */
(function () {
  'use strict';

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function kindOf(name) {
    return /\.dmn$/i.test(name) ? 'dmn' : 'bpmn';
  }

  function Studio(root) {
    var studio = window.AduanStudio;
    this.root = root;
    this.lang = root.getAttribute('data-lang') === 'en' ? 'en' : 'id';
    this.t = studio.translator(this.lang);
    this.readOnly = root.getAttribute('data-read-only') === 'true';
    this.csrf = root.getAttribute('data-csrf') || '';
    this.urls = {
      files: root.getAttribute('data-files-url'), save: root.getAttribute('data-save-url'),
      validate: root.getAttribute('data-validate-url'),
      services: root.getAttribute('data-services-url'),
    };
    this.editors = [];
    this.findings = [];
    this.version = null;
  }

  Studio.prototype.request = function (url, body) {
    var options = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      options.method = 'POST';
      options.headers['Content-Type'] = 'application/json';
      options.headers['X-CSRF-Token'] = this.csrf;
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        return { status: response.status, ok: response.ok, json: json };
      });
    });
  };

  Studio.prototype.say = function (text, kind) {
    this.status.textContent = text;
    this.status.className = 'studio-status alert py-1 px-2 mb-0 alert-' + (kind || 'secondary');
  };

  // ------------------------------------------------------------------------- the page

  Studio.prototype.build = function () {
    var t = this.t;
    var self = this;
    this.root.classList.add('studio-modeler');
    this.root.replaceChildren();
    var toolbar = element('div', { class: 'studio-toolbar' });
    if (!this.readOnly && this.urls.save) {
      this.saveButton = element('button', { type: 'button', class: 'btn btn-primary btn-sm',
        'data-action': 'save' }, t('Save'));
      this.saveButton.addEventListener('click', function () { self.save(); });
      toolbar.append(this.saveButton);
    }
    if (this.urls.validate) {
      this.checkButton = element('button', { type: 'button', class: 'btn btn-outline-secondary btn-sm',
        'data-action': 'validate' }, t('Check'));
      this.checkButton.addEventListener('click', function () { self.validate(); });
      toolbar.append(this.checkButton);
    }
    if (!this.readOnly) {
      this.simulateButton = element('button', { type: 'button', class: 'btn btn-outline-success btn-sm',
        'data-action': 'simulate', 'aria-pressed': 'false', hidden: '' }, t('Simulate'));
      this.simulateButton.addEventListener('click', function () {
        if (self.current && self.current.simulate) self.current.simulate(!self.current.simulating);
      });
      toolbar.append(this.simulateButton);
    }
    this.dirtyNote = element('span', { class: 'badge text-bg-warning', hidden: '' }, t('Unsaved changes'));
    toolbar.append(this.dirtyNote);
    if (this.readOnly) {
      toolbar.append(element('span', { class: 'badge text-bg-secondary', 'data-read-only-note': '' },
        t('Read only: you may look, not change.')));
    }
    this.status = element('p', { class: 'studio-status', role: 'status', 'aria-live': 'polite' });
    this.tabs = element('div', { class: 'studio-tabs', role: 'tablist', 'aria-label': t('Diagram files') });
    this.workspace = element('div', { class: 'studio-workspace' });
    var findings = element('section', { class: 'studio-findings-box', 'aria-label': t('Findings') });
    this.findingsTitle = element('p', { class: 'mb-1', 'data-findings-title': '' });
    this.findingsList = element('ul', { class: 'studio-findings', 'data-findings': '' });
    findings.append(this.findingsTitle, this.findingsList);
    this.root.append(toolbar, this.status, this.tabs, this.workspace, findings);
  };

  Studio.prototype.setDirty = function (dirty) {
    this.dirty = dirty;
    this.root.setAttribute('data-dirty', dirty ? 'true' : 'false');
    this.dirtyNote.hidden = !dirty;
  };

  Studio.prototype.addTab = function (editor) {
    var self = this;
    var index = this.editors.length;
    var tab = element('button', { type: 'button', role: 'tab', id: 'studio-tab-' + index,
      'aria-controls': 'studio-panel-' + index, 'aria-selected': 'false',
      'data-file': editor.name }, editor.name);
    editor.badge = element('span', { class: 'studio-finding-badge studio-tab-count', hidden: '' });
    tab.append(editor.badge);
    tab.addEventListener('click', function () { self.show(editor); });
    editor.tab = tab;
    editor.panel = element('div', { class: 'studio-panel-body', role: 'tabpanel',
      id: 'studio-panel-' + index, 'aria-labelledby': 'studio-tab-' + index,
      'data-file': editor.name, hidden: '' });
    this.tabs.append(tab);
    this.workspace.append(editor.panel);
    this.editors.push(editor);
  };

  Studio.prototype.show = function (editor) {
    this.editors.forEach(function (other) {
      other.tab.setAttribute('aria-selected', other === editor ? 'true' : 'false');
      other.panel.hidden = other !== editor;
    });
    this.current = editor;
    if (editor.shown) editor.shown();
    this.showSimulation();
  };

  /** The "Simulate" button follows the shown tab: there only for a BPMN tab that opened. */
  Studio.prototype.showSimulation = function () {
    var editor = this.current;
    var simulating = Boolean(editor && editor.simulating);
    if (this.simulateButton) {
      this.simulateButton.hidden = !(editor && editor.simulate && !editor.failed);
      this.simulateButton.setAttribute('aria-pressed', simulating ? 'true' : 'false');
    }
    this.root.setAttribute('data-simulating', simulating ? 'true' : 'false');
  };

  // ------------------------------------------------------------------------- BPMN

  Studio.prototype.openBpmn = function (editor, services) {
    var studio = window.AduanStudio;
    var self = this;
    var canvas = element('div', { class: 'studio-canvas', 'data-canvas': 'bpmn' });
    editor.panel.append(canvas);
    var options = { container: canvas, moddleExtensions: studio.moddleExtensions,
      additionalModules: [studio.translateModule(this.lang)] };
    if (this.readOnly) {
      editor.modeler = new studio.BpmnViewer(options);
    } else {
      var properties = element('div', { class: 'studio-properties', 'data-properties': '',
        'aria-label': this.t('Properties') });
      editor.panel.append(properties);
      options.propertiesPanel = { parent: properties };
      options.additionalModules = studio.propertiesPanelModules.concat(options.additionalModules);
      options.aduan = { services: services };
      if (studio.simulationModules) {
        options.additionalModules = options.additionalModules.concat(studio.simulationModules);
      }
      editor.modeler = new studio.BpmnModeler(options);
      editor.modeler.on('commandStack.changed', function () { self.setDirty(true); });
      if (studio.simulationModules) this.addSimulation(editor);
    }
    var fitted = false;
    editor.shown = function () {
      var view = editor.modeler.get('canvas');
      view.resized();
      if (!fitted) {
        view.zoom('fit-viewport');
        fitted = true;
      }
    };
    editor.exportXml = function () {
      return editor.modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
    };
    return editor.modeler.importXML(editor.xml).then(function (result) {
      result.warnings.forEach(function (warning) {
        console.warn('studio-modeler: ' + editor.name + ': ' + warning.message);
      });
      if (result.warnings.length) {
        // Files from other tools may hold elements bpmn-js cannot draw (a flow without its
        // source, say): the rest opens; the designer is told what was left out.
        editor.panel.prepend(element('div', { class: 'alert alert-warning py-1 px-2 small',
          role: 'status', 'data-import-warnings': String(result.warnings.length) },
          self.t('{file} opened with {count} problem(s): some elements could not be drawn. First: {first}',
            { file: editor.name, count: result.warnings.length,
              first: result.warnings[0].message })));
      }
    });
  };

  /**
   * The token simulation (bpmn-js-token-simulation) of a BPMN tab: off at first; on, the
   * diagram cannot be edited (the library refuses every modeling command) and the properties
   * panel is put away; off again, the diagram is as it was (the colours the simulation paints
   * are the library's, undone when it stops). Its own keyboard shortcut toggles it too.
   */
  Studio.prototype.addSimulation = function (editor) {
    var self = this;
    editor.simulating = false;
    editor.simulate = function (active) {
      editor.modeler.get('toggleMode').toggleMode(Boolean(active));
    };
    editor.modeler.on('tokenSimulation.toggleMode', function (event) {
      editor.simulating = Boolean(event.active);
      editor.panel.classList.toggle('studio-simulating', editor.simulating);
      var note = self.t("Simulation on: the diagram cannot be changed. Click a start event's play button to send a token.");
      if (self.current === editor) {
        self.showSimulation();
        if (editor.simulating) {
          self.say(note, 'success');
        } else if (self.status.textContent === note) {
          self.say('');
          self.status.className = 'studio-status';
        }
      }
      editor.modeler.get('canvas').resized();
    });
  };

  Studio.prototype.markBpmn = function (editor, finding) {
    var registry = editor.modeler.get('elementRegistry');
    var target = finding.element_id && registry.get(finding.element_id);
    if (!target) return false;
    var severity = finding.severity === 'warning' ? 'warning' : 'error';
    editor.modeler.get('canvas').addMarker(target, 'aduan-finding-' + severity);
    var badge = element('span', { class: 'studio-finding-badge ' + severity,
      title: finding.message }, '!');
    editor.modeler.get('overlays').add(target, 'aduan-finding',
      { position: { top: -10, right: 10 }, html: badge });
    editor.marked.push(target.id);
    return true;
  };

  Studio.prototype.selectBpmn = function (editor, id) {
    var target = editor.modeler.get('elementRegistry').get(id);
    if (!target) return;
    var canvas = editor.modeler.get('canvas');
    if (canvas.scrollToElement) canvas.scrollToElement(target);
    if (!this.readOnly) editor.modeler.get('selection').select(target);
    editor.marked.forEach(function (marked) { canvas.removeMarker(marked, 'aduan-finding-focus'); });
    canvas.addMarker(target, 'aduan-finding-focus');
  };

  Studio.prototype.clearBpmn = function (editor) {
    var canvas = editor.modeler.get('canvas');
    editor.marked.forEach(function (id) {
      ['error', 'warning', 'focus'].forEach(function (kind) {
        canvas.removeMarker(id, 'aduan-finding-' + kind);
      });
    });
    editor.modeler.get('overlays').remove({ type: 'aduan-finding' });
  };

  // ------------------------------------------------------------------------- DMN

  Studio.prototype.openDmn = function (editor) {
    var studio = window.AduanStudio;
    var self = this;
    var box = element('div', { class: 'studio-dmn' });
    var views = element('div', { class: 'studio-dmn-views', role: 'group',
      'aria-label': this.t('Views of {file}', { file: editor.name }) });
    var canvas = element('div', { class: 'studio-canvas', 'data-canvas': 'dmn' });
    box.append(views, canvas);
    editor.panel.append(box);
    var Modeler = this.readOnly ? studio.DmnViewer : studio.DmnModeler;
    editor.modeler = new Modeler({ container: canvas,
      common: { additionalModules: [studio.translateModule(this.lang)] } });
    editor.exportXml = function () {
      return editor.modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
    };
    var watched = [];
    editor.modeler.on('views.changed', function (event) {
      views.querySelectorAll('button').forEach(function (button) {
        button.setAttribute('aria-pressed',
          event.activeView && button.getAttribute('data-view') === event.activeView.element.id
            ? 'true' : 'false');
      });
      var viewer = editor.modeler.getActiveViewer();
      if (viewer && watched.indexOf(viewer) < 0) {
        watched.push(viewer);
        if (!self.readOnly) viewer.on('commandStack.changed', function () { self.setDirty(true); });
        viewer.on('elements.changed', function () { self.markDmnCells(editor); });
      }
      self.markDmnCells(editor);
    });
    editor.shown = function () {
      var viewer = editor.modeler.getActiveViewer();
      if (viewer && viewer.get && editor.modeler.getActiveView().type === 'drd') {
        viewer.get('canvas').resized();
      }
    };
    editor.openView = function (id) {
      var view = editor.modeler.getViews().find(function (v) { return v.element.id === id; });
      if (view) return editor.modeler.open(view);
      return Promise.resolve();
    };
    return editor.modeler.importXML(editor.xml).then(function (result) {
      (result.warnings || []).forEach(function (warning) {
        console.warn('studio-modeler: ' + editor.name + ': ' + warning.message);
      });
      var all = editor.modeler.getViews();
      all.forEach(function (view) {
        var label = view.type === 'drd' ? self.t('Decision requirements')
          : (view.element.name || view.element.id);
        var button = element('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary',
          'data-view': view.element.id, 'aria-pressed': 'false' }, label);
        button.addEventListener('click', function () { editor.modeler.open(view); });
        views.append(button);
      });
      // A designer comes for the tables: open the first decision table, not the DRD.
      var table = all.find(function (view) { return view.type === 'decisionTable'; });
      return table ? editor.modeler.open(table) : undefined;
    });
  };

  /** The decision (view) holding a DMN element id: itself, a rule, a cell, an input... */
  function decisionHolding(definitions, id) {
    var found = null;
    (definitions.get('drgElements') || []).forEach(function (drg) {
      if (found) return;
      if (drg.id === id) { found = drg; return; }
      var seen = [];
      (function walk(node) {
        if (found || !node || typeof node !== 'object' || seen.indexOf(node) >= 0) return;
        seen.push(node);
        if (node.id === id) { found = drg; return; }
        ['decisionLogic', 'input', 'output', 'rule', 'inputEntry', 'outputEntry'].forEach(function (key) {
          var value = node[key];
          (Array.isArray(value) ? value : [value]).forEach(walk);
        });
      })(drg.decisionLogic);
    });
    return found;
  }

  Studio.prototype.markDmnCells = function (editor) {
    var canvas = editor.panel;
    canvas.querySelectorAll('.aduan-finding-error, .aduan-finding-warning').forEach(function (node) {
      if (!node.closest('.djs-element')) {
        node.classList.remove('aduan-finding-error', 'aduan-finding-warning');
      }
    });
    editor.findings.forEach(function (finding) {
      if (!finding.element_id) return;
      var selector = '[data-element-id="' + CSS.escape(finding.element_id) + '"], [data-row-id="' +
        CSS.escape(finding.element_id) + '"], [data-col-id="' + CSS.escape(finding.element_id) + '"]';
      canvas.querySelectorAll(selector).forEach(function (node) {
        if (node.closest('.djs-element') || node.classList.contains('djs-element')) return;
        node.classList.add('aduan-finding-' + (finding.severity === 'warning' ? 'warning' : 'error'));
      });
    });
    var viewer = editor.modeler.getActiveViewer();
    var view = editor.modeler.getActiveView();
    if (viewer && view && view.type === 'drd') {
      var registry = viewer.get('elementRegistry');
      var drdCanvas = viewer.get('canvas');
      editor.findings.forEach(function (finding) {
        var definitions = editor.modeler.getDefinitions();
        var decision = definitions && decisionHolding(definitions, finding.element_id);
        var shape = decision && registry.get(decision.id);
        if (shape) {
          drdCanvas.addMarker(shape, 'aduan-finding-' + (finding.severity === 'warning' ? 'warning' : 'error'));
        }
      });
    }
  };

  Studio.prototype.selectDmn = function (editor, id) {
    var definitions = editor.modeler.getDefinitions();
    var decision = definitions && decisionHolding(definitions, id);
    var self = this;
    var opened = decision ? editor.openView(decision.id) : Promise.resolve();
    return Promise.resolve(opened).then(function () {
      self.markDmnCells(editor);
      var node = editor.panel.querySelector('[data-element-id="' + CSS.escape(id) + '"]:not(.djs-element), [data-row-id="' + CSS.escape(id) + '"]');
      if (node) {
        node.scrollIntoView({ block: 'center' });
        if (node.matches('td')) node.focus();
      }
    });
  };

  // ------------------------------------------------------------------------- load

  Studio.prototype.load = function () {
    var self = this;
    var t = this.t;
    this.build();
    this.root.setAttribute('data-studio-state', 'loading');
    this.root.setAttribute('aria-busy', 'true');
    this.say(t('Loading the diagrams…'));
    var services = this.urls.services && !this.readOnly
      ? this.request(this.urls.services).then(function (answer) {
        return answer.ok && answer.json && Array.isArray(answer.json.services) ? answer.json.services : [];
      }, function () { return []; })
      : Promise.resolve([]);
    return Promise.all([this.request(this.urls.files), services]).then(function (answers) {
      var answer = answers[0];
      if (!answer.ok || !answer.json || !answer.json.files) {
        throw new Error(answer.json && answer.json.error ? answer.json.error.message
          : 'HTTP ' + answer.status);
      }
      self.draft = answer.json.draft || {};
      self.version = self.draft.version;
      var names = Object.keys(answer.json.files).sort(function (a, b) {
        return (kindOf(a) === kindOf(b) ? 0 : kindOf(a) === 'bpmn' ? -1 : 1) || (a < b ? -1 : a > b ? 1 : 0);
      });
      names.forEach(function (name) {
        self.addTab({ name: name, kind: kindOf(name), xml: answer.json.files[name], marked: [],
          findings: [] });
      });
      if (self.editors.length) self.show(self.editors[0]);
      var opened = self.editors.map(function (editor) {
        var open = editor.kind === 'dmn' ? self.openDmn(editor) : self.openBpmn(editor, answers[1]);
        return open.catch(function (error) {
          editor.failed = true;
          editor.panel.append(element('p', { class: 'alert alert-danger m-2', 'data-open-error': '' },
            t('{file} could not be opened: {error}', { file: editor.name, error: error.message })));
        });
      });
      return Promise.all(opened);
    }).then(function () {
      if (self.current && self.current.shown && !self.current.failed) self.current.shown();
      self.showSimulation();
      self.setDirty(false);
      self.say('');
      self.status.className = 'studio-status';
      self.root.setAttribute('data-studio-state', 'ready');
      self.root.removeAttribute('aria-busy');
    }).catch(function (error) {
      self.say(t('The diagrams could not be loaded: {error}', { error: error.message }), 'danger');
      self.root.setAttribute('data-studio-state', 'error');
      self.root.removeAttribute('aria-busy');
    });
  };

  Studio.prototype.files = function () {
    var files = {};
    // The simulation paints its colours into the diagram: stop it before the XML is taken.
    this.editors.forEach(function (editor) {
      if (editor.simulating) editor.simulate(false);
    });
    return Promise.all(this.editors.map(function (editor) {
      if (editor.failed) {
        files[editor.name] = editor.xml;  // sent back as it came
        return null;
      }
      return editor.exportXml().then(function (xml) { files[editor.name] = xml; });
    })).then(function () { return files; });
  };

  // ------------------------------------------------------------------------- save

  Studio.prototype.save = function () {
    var self = this;
    var t = this.t;
    this.saveButton.disabled = true;
    this.say(t('Saving…'));
    return this.files().then(function (files) {
      return self.request(self.urls.save, { version: self.version, files: files });
    }).then(function (answer) {
      var error = answer.json && answer.json.error;
      if (answer.ok && answer.json && answer.json.draft) {
        self.draft = answer.json.draft;
        self.version = self.draft.version;
        self.setDirty(false);
        self.say(t('Saved as version {version}.', { version: self.version }), 'success');
      } else if (answer.status === 409) {
        self.say(t('Not saved: {message} Reload the page to see their changes, then make yours again.',
          { message: t('Someone else saved this draft first.') }), 'warning');
        self.root.setAttribute('data-save-conflict', 'true');
      } else if (error) {
        var details = Object.keys(error.field_errors || {}).map(function (field) {
          return field + ': ' + error.field_errors[field];
        });
        self.say(t('Not saved: {message}', { message: [error.message].concat(details).join(' ') }), 'danger');
      } else {
        self.say(t('Not saved: the server did not answer ({status}).', { status: answer.status }), 'danger');
      }
    }, function (error) {
      self.say(t('Not saved: {message}', { message: error.message }), 'danger');
    }).then(function () { self.saveButton.disabled = false; });
  };

  // ------------------------------------------------------------------------- check

  Studio.prototype.validate = function () {
    var self = this;
    var t = this.t;
    this.checkButton.disabled = true;
    this.say(t('Checking…'));
    return this.files().then(function (files) {
      return self.request(self.urls.validate, { files: files });
    }).then(function (answer) {
      if (!answer.ok || !answer.json || !Array.isArray(answer.json.findings)) {
        self.say(t('The check failed: the server did not answer ({status}).', { status: answer.status }), 'danger');
        return;
      }
      self.showFindings(answer.json.findings);
      self.say(answer.json.findings.length ? t('{count} finding(s):', { count: answer.json.findings.length })
        : t('No findings: the diagrams can be deployed.'),
        answer.json.valid ? 'success' : 'danger');
    }, function (error) {
      self.say(t('The check failed: the server did not answer ({status}).', { status: error.message }), 'danger');
    }).then(function () { self.checkButton.disabled = false; });
  };

  Studio.prototype.showFindings = function (findings) {
    var self = this;
    var t = this.t;
    this.editors.forEach(function (editor) {
      if (!editor.failed && editor.kind === 'bpmn') self.clearBpmn(editor);
      editor.marked = [];
      editor.findings = [];
    });
    this.findingsList.replaceChildren();
    this.findingsTitle.textContent = findings.length ? t('Findings') : '';
    findings.forEach(function (finding) {
      var editor = self.editors.find(function (e) { return e.name === finding.file; });
      var severity = finding.severity === 'warning' ? 'warning' : 'error';
      var marked = false;
      if (editor && !editor.failed) {
        editor.findings.push(finding);
        marked = editor.kind === 'bpmn' ? self.markBpmn(editor, finding) : true;
      }
      var item = element('li', { class: 'studio-finding-' + severity });
      var button = element('button', { type: 'button', class: 'btn btn-sm btn-light',
        'data-finding-file': finding.file || '', 'data-finding-element': finding.element_id || '' });
      var where = [finding.file, finding.element_id].filter(Boolean).join(' › ');
      button.append(element('strong', {}, t(severity) + ': '),
        document.createTextNode((where ? where + ': ' : '') + finding.message));
      button.disabled = !editor || !marked && !finding.element_id;
      button.addEventListener('click', function () {
        if (!editor) return;
        self.show(editor);
        if (!finding.element_id || editor.failed) return;
        if (editor.kind === 'bpmn') self.selectBpmn(editor, finding.element_id);
        else self.selectDmn(editor, finding.element_id);
      });
      item.append(button);
      self.findingsList.append(item);
    });
    this.editors.forEach(function (editor) {
      editor.badge.textContent = String(editor.findings.length);
      editor.badge.hidden = !editor.findings.length;
      if (editor.kind === 'dmn' && !editor.failed) self.markDmnCells(editor);
    });
  };

  function start() {
    var root = document.getElementById('studio-modeler');
    if (!root || !window.AduanStudio || root.hasAttribute('data-studio-state')) return;
    var studio = new Studio(root);
    root.aduanStudio = studio;  // for the browser tests and the console
    studio.load();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
