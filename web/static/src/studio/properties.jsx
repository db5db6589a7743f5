/**
 * Properties panel groups for what Aduan's engine reads from a diagram, so that designers edit
 * panels, not XML (docs/designers.md, "The modeler"; docs/bpmn-support.md for the meaning):
 *
 * - user tasks: candidate groups (`candidateGroups`, `candidateGroupsExpression`), due date
 *   (`dueDate`) and the form (`formJsonSchema`, with a live preview of its fields);
 * - scripts: `spiffworkflow:preScript` / `postScript` on activities, a script task's script;
 * - service tasks: `spiffworkflow:serviceTaskOperator`, the service picked from the host's
 *   registered services (config `aduan.services`), one entry per documented parameter;
 * - business rule tasks: `spiffworkflow:calledDecisionId`;
 * - sequence flows: the condition (a Python expression);
 * - messages: `spiffworkflow:messagePayload` / `messageVariable`; signals' `variableName`;
 *   call activities' called element.
 *
 * Timers, messages and names come from bpmn-js-properties-panel's own BPMN provider.
 * Every change goes through the command stack (one undo step per edit).
 */

import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import {
  TextFieldEntry, TextAreaEntry, SelectEntry, isTextFieldEntryEdited, isTextAreaEntryEdited,
  isSelectEntryEdited,
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { useEffect, useRef } from '@bpmn-io/properties-panel/preact/hooks';

const SPIFF = 'spiffworkflow';
const MULTI = 'properties-panel.multi-command-executor';

// ----------------------------------------------------------------------------- the model

function extensionValues(bo) {
  const extensions = bo.get('extensionElements');
  return extensions ? extensions.get('values') : [];
}

function findExtension(bo, type) {
  return extensionValues(bo).find((value) => is(value, type));
}

/** Commands that make sure `bo` has extension elements; returns [extensionElements, commands]. */
function ensureExtensions(element, bo, bpmnFactory) {
  let extensions = bo.get('extensionElements');
  const commands = [];
  if (!extensions) {
    extensions = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    extensions.$parent = bo;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: bo, properties: { extensionElements: extensions } } });
  }
  return [extensions, commands];
}

function addExtension(element, extensions, value, commands) {
  value.$parent = extensions;
  commands.push({ cmd: 'element.updateModdleProperties', context: {
    element, moddleElement: extensions,
    properties: { values: [...extensions.get('values'), value] } } });
}

function removeExtension(element, extensions, value, commands) {
  commands.push({ cmd: 'element.updateModdleProperties', context: {
    element, moddleElement: extensions,
    properties: { values: extensions.get('values').filter((v) => v !== value) } } });
}

function run(commandStack, commands) {
  if (commands.length) {
    commandStack.execute(MULTI, commands);
  }
}

/** The value of `<spiffworkflow:property name=...>`, or ''. */
export function getSpiffProperty(bo, name) {
  const properties = findExtension(bo, `${SPIFF}:Properties`);
  const property = properties && properties.get('properties').find((p) => p.name === name);
  return property ? property.value || '' : '';
}

function setSpiffProperty(services, element, name, value) {
  const { bpmnFactory, moddle, commandStack } = services;
  const bo = getBusinessObject(element);
  const [extensions, commands] = ensureExtensions(element, bo, bpmnFactory);
  let properties = findExtension(bo, `${SPIFF}:Properties`);
  const property = properties && properties.get('properties').find((p) => p.name === name);
  if (!value) {
    if (property) {
      const rest = properties.get('properties').filter((p) => p !== property);
      if (rest.length) {
        commands.push({ cmd: 'element.updateModdleProperties', context: {
          element, moddleElement: properties, properties: { properties: rest } } });
      } else {
        removeExtension(element, extensions, properties, commands);
      }
    }
  } else if (property) {
    commands.push({ cmd: 'element.updateModdleProperties', context: {
      element, moddleElement: property, properties: { value } } });
  } else {
    if (!properties) {
      properties = moddle.create(`${SPIFF}:Properties`, { properties: [] });
      addExtension(element, extensions, properties, commands);
    }
    const created = moddle.create(`${SPIFF}:Property`, { name, value });
    created.$parent = properties;
    commands.push({ cmd: 'element.updateModdleProperties', context: {
      element, moddleElement: properties,
      properties: { properties: [...properties.get('properties'), created] } } });
  }
  run(commandStack, commands);
}

/** The text of a body-only extension element (`preScript`, `calledDecisionId`, ...). */
function getBodyExtension(bo, type) {
  const found = findExtension(bo, `${SPIFF}:${type}`);
  return found ? found.get('value') || '' : '';
}

function setBodyExtension(services, element, type, value, bo = getBusinessObject(element)) {
  const { bpmnFactory, moddle, commandStack } = services;
  const [extensions, commands] = ensureExtensions(element, bo, bpmnFactory);
  const found = findExtension(bo, `${SPIFF}:${type}`);
  if (!value) {
    if (found) removeExtension(element, extensions, found, commands);
  } else if (found) {
    commands.push({ cmd: 'element.updateModdleProperties', context: {
      element, moddleElement: found, properties: { value } } });
  } else {
    addExtension(element, extensions, moddle.create(`${SPIFF}:${type}`, { value }), commands);
  }
  run(commandStack, commands);
}

function useServices() {
  return {
    bpmnFactory: useService('bpmnFactory'), moddle: useService('moddle'),
    commandStack: useService('commandStack'), modeling: useService('modeling'),
    translate: useService('translate'), debounce: useService('debounceInput'),
  };
}

// ----------------------------------------------------------------------------- entries

function PropertyEntry({ element, id, name, label, description, area }) {
  const services = useServices();
  const Entry = area ? TextAreaEntry : TextFieldEntry;
  return <Entry element={element} id={id} label={services.translate(label)}
    description={description && services.translate(description)} debounce={services.debounce}
    monospace={area} rows={area ? 3 : undefined}
    getValue={() => getSpiffProperty(getBusinessObject(element), name)}
    setValue={(value) => setSpiffProperty(services, element, name, value)} />;
}

const SANDBOX_NOTE = 'Python, run in the sandbox: no imports, no loops over huge ranges; only ' +
  "the task's data and the host's helpers. See docs/bpmn-support.md.";

function ScriptEntry({ element, id, type, label }) {
  const services = useServices();
  return <TextAreaEntry element={element} id={id} label={services.translate(label)}
    description={services.translate(SANDBOX_NOTE)} debounce={services.debounce} monospace
    rows={4} autoResize getValue={() => getBodyExtension(getBusinessObject(element), type)}
    setValue={(value) => setBodyExtension(services, element, type, value)} />;
}

function ScriptTaskEntry({ element, id }) {
  const services = useServices();
  return <TextAreaEntry element={element} id={id} label={services.translate('Script')}
    description={services.translate(SANDBOX_NOTE)} debounce={services.debounce} monospace
    rows={6} autoResize getValue={() => getBusinessObject(element).get('script') || ''}
    setValue={(value) => services.modeling.updateProperties(element, {
      scriptFormat: getBusinessObject(element).get('scriptFormat') || 'python',
      script: value || undefined })} />;
}

function BodyExtensionEntry({ element, id, type, label, description, target }) {
  const services = useServices();
  const owner = target ? target(element) : getBusinessObject(element);
  return <TextFieldEntry element={element} id={id} label={services.translate(label)}
    description={description && services.translate(description)} debounce={services.debounce}
    getValue={() => getBodyExtension(owner, type)}
    setValue={(value) => setBodyExtension(services, element, type, value, owner)} />;
}

function ConditionEntry({ element, id }) {
  const services = useServices();
  const bo = getBusinessObject(element);
  return <TextAreaEntry element={element} id={id} label={services.translate('Condition')}
    description={services.translate('A Python expression on the task data, e.g. decision == "verify"')}
    debounce={services.debounce} monospace rows={2}
    getValue={() => (bo.get('conditionExpression') ? bo.get('conditionExpression').get('body') : '') || ''}
    setValue={(value) => services.modeling.updateProperties(element, {
      conditionExpression: value ? services.bpmnFactory.create('bpmn:FormalExpression',
        { body: value }) : undefined })} />;
}

function CalledElementEntry({ element, id }) {
  const services = useServices();
  return <TextFieldEntry element={element} id={id} label={services.translate('Called process id')}
    debounce={services.debounce}
    getValue={() => getBusinessObject(element).get('calledElement') || ''}
    setValue={(value) => services.modeling.updateProperties(element,
      { calledElement: value || undefined })} />;
}

// ----------------------------------------------------------------------------- the form

/** The fields a JSON Schema form shows, as simple HTML: what the officer will fill in. */
export function renderFormPreview(container, text, translate) {
  container.replaceChildren();
  if (!text.trim()) {
    container.append(note(translate('No form: the task is completed without data.')));
    return;
  }
  let schema;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    container.append(note(translate('The form is not valid JSON: {error}', { error: error.message }),
      'aduan-preview-error'));
    return;
  }
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) {
    container.append(note(translate('The form must be a JSON object.'), 'aduan-preview-error'));
    return;
  }
  const form = document.createElement('form');
  form.className = 'aduan-form-preview';
  form.setAttribute('aria-label', translate('Form preview'));
  if (schema.title) {
    const title = document.createElement('strong');
    title.textContent = schema.title;
    form.append(title);
  }
  if (schema.description) form.append(note(schema.description));
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  for (const [name, field] of Object.entries(schema.properties || {})) {
    form.append(previewField(name, field || {}, required.has(name)));
  }
  container.append(form);
}

function note(text, className = 'aduan-preview-note') {
  const p = document.createElement('p');
  p.className = className;
  p.textContent = text;
  return p;
}

function previewField(name, field, required) {
  const wrapper = document.createElement('label');
  wrapper.className = 'aduan-preview-field';
  wrapper.dataset.field = name;
  const caption = document.createElement('span');
  caption.textContent = (field.title || name) + (required ? ' *' : '');
  wrapper.append(caption);
  let control;
  if (Array.isArray(field.enum)) {
    control = document.createElement('select');
    for (const value of field.enum) {
      const option = document.createElement('option');
      option.value = option.textContent = String(value);
      control.append(option);
    }
  } else if (field.type === 'boolean') {
    control = document.createElement('input');
    control.type = 'checkbox';
  } else if (field.type === 'integer' || field.type === 'number') {
    control = document.createElement('input');
    control.type = 'number';
    if (field.minimum !== undefined) control.min = field.minimum;
    if (field.maximum !== undefined) control.max = field.maximum;
  } else if (field.type === 'string' && (field.maxLength || 0) > 200) {
    control = document.createElement('textarea');
    control.rows = 2;
  } else {
    control = document.createElement('input');
    control.type = 'text';
  }
  control.name = name;
  control.disabled = true;
  wrapper.append(control);
  return wrapper;
}

function FormPreview({ element }) {
  const translate = useService('translate');
  const ref = useRef(null);
  const text = getSpiffProperty(getBusinessObject(element), 'formJsonSchema');
  useEffect(() => {
    if (ref.current) renderFormPreview(ref.current, text, translate);
  }, [text, translate]);
  return <div class="bio-properties-panel-entry aduan-form-preview-box">
    <span class="bio-properties-panel-label">{translate('Form preview')}</span>
    <div ref={ref} data-form-preview="" aria-live="polite" />
  </div>;
}

function validateJson(translate) {
  return (value) => {
    if (!value) return null;
    try {
      const parsed = JSON.parse(value);
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? null
        : translate('The form must be a JSON object.');
    } catch (error) {
      return translate('The form is not valid JSON: {error}', { error: error.message });
    }
  };
}

function FormEntry({ element, id }) {
  const services = useServices();
  return <TextAreaEntry element={element} id={id} label={services.translate('Form (JSON Schema)')}
    description={services.translate('The fields the officer fills in; see the preview below.')}
    debounce={services.debounce} monospace rows={8} validate={validateJson(services.translate)}
    getValue={() => getSpiffProperty(getBusinessObject(element), 'formJsonSchema')}
    setValue={(value) => {
      if (!validateJson(services.translate)(value)) {
        setSpiffProperty(services, element, 'formJsonSchema', value);
      }
    }} />;
}

// ----------------------------------------------------------------------------- services

function operatorOf(element) {
  return findExtension(getBusinessObject(element), `${SPIFF}:ServiceTaskOperator`);
}

function parametersOf(operator) {
  const list = operator && operator.get('parameterList');
  return list ? list.get('parameters') : [];
}

function setOperator(services, element, changes) {
  const { bpmnFactory, moddle, commandStack } = services;
  const bo = getBusinessObject(element);
  const [extensions, commands] = ensureExtensions(element, bo, bpmnFactory);
  let operator = operatorOf(element);
  if (!operator) {
    operator = moddle.create(`${SPIFF}:ServiceTaskOperator`, {});
    const list = moddle.create(`${SPIFF}:Parameters`, { parameters: [] });
    list.$parent = operator;
    operator.set('parameterList', list);
    addExtension(element, extensions, operator, commands);
  }
  commands.push({ cmd: 'element.updateModdleProperties', context: {
    element, moddleElement: operator, properties: changes } });
  run(commandStack, commands);
}

function setParameter(services, element, name, value) {
  const { moddle, commandStack } = services;
  const operator = operatorOf(element);
  if (!operator) return;
  const commands = [];
  let list = operator.get('parameterList');
  if (!list) {
    list = moddle.create(`${SPIFF}:Parameters`, { parameters: [] });
    list.$parent = operator;
    commands.push({ cmd: 'element.updateModdleProperties', context: {
      element, moddleElement: operator, properties: { parameterList: list } } });
  }
  const found = list.get('parameters').find((p) => p.id === name);
  if (!value) {
    if (found) {
      commands.push({ cmd: 'element.updateModdleProperties', context: {
        element, moddleElement: list,
        properties: { parameters: list.get('parameters').filter((p) => p !== found) } } });
    }
  } else if (found) {
    commands.push({ cmd: 'element.updateModdleProperties', context: {
      element, moddleElement: found, properties: { value } } });
  } else {
    const created = moddle.create(`${SPIFF}:Parameter`, { id: name, type: 'any', value });
    created.$parent = list;
    commands.push({ cmd: 'element.updateModdleProperties', context: {
      element, moddleElement: list, properties: { parameters: [...list.get('parameters'), created] } } });
  }
  run(commandStack, commands);
}

function ServiceEntry({ element, id, known }) {
  const services = useServices();
  const getOptions = () => {
    const current = operatorOf(element) ? operatorOf(element).get('id') : '';
    const options = [{ value: '', label: services.translate('<choose a service>') }];
    for (const service of known) options.push({ value: service.name, label: service.name });
    if (current && !known.some((s) => s.name === current)) {
      options.push({ value: current, label: services.translate('{name} (not registered)', { name: current }) });
    }
    return options;
  };
  const chosen = known.find((s) => operatorOf(element) && s.name === operatorOf(element).get('id'));
  return <SelectEntry element={element} id={id} label={services.translate('Service')}
    description={chosen ? chosen.doc : services.translate("One of the host's registered services.")}
    getOptions={getOptions}
    getValue={() => (operatorOf(element) ? operatorOf(element).get('id') || '' : '')}
    setValue={(value) => setOperator(services, element, { id: value || undefined })} />;
}

function ResultVariableEntry({ element, id }) {
  const services = useServices();
  return <TextFieldEntry element={element} id={id} label={services.translate('Result variable')}
    description={services.translate("The task data variable that receives the service's answer.")}
    debounce={services.debounce}
    getValue={() => (operatorOf(element) ? operatorOf(element).get('resultVariable') || '' : '')}
    setValue={(value) => setOperator(services, element, { resultVariable: value || undefined })} />;
}

function ParameterEntry({ element, id, name, doc, required }) {
  const services = useServices();
  const label = required ? services.translate('{name} (required)', { name }) : name;
  return <TextFieldEntry element={element} id={id} label={label}
    description={doc || services.translate('A Python expression on the task data.')}
    debounce={services.debounce}
    getValue={() => {
      const found = parametersOf(operatorOf(element)).find((p) => p.id === name);
      return found ? found.value || '' : '';
    }}
    setValue={(value) => setParameter(services, element, name, value)} />;
}

function serviceEntries(element, known) {
  const entries = [
    { id: 'aduan-service', component: ServiceEntry, known, isEdited: isSelectEntryEdited },
    { id: 'aduan-result-variable', component: ResultVariableEntry, isEdited: isTextFieldEntryEdited },
  ];
  const operator = operatorOf(element);
  if (!operator) return entries;
  const service = known.find((s) => s.name === operator.get('id'));
  const names = [];
  for (const parameter of (service && service.parameters) || []) {
    names.push([parameter.name, parameter.doc, parameter.required]);
  }
  for (const parameter of parametersOf(operator)) {
    if (!names.some(([name]) => name === parameter.id)) names.push([parameter.id, '', false]);
  }
  for (const [name, doc, required] of names) {
    entries.push({ id: `aduan-parameter-${name}`, component: ParameterEntry, name, doc, required,
      isEdited: isTextFieldEntryEdited });
  }
  return entries;
}

// ----------------------------------------------------------------------------- groups

function messageOwner(element) {
  const bo = getBusinessObject(element);
  if (is(bo, 'bpmn:ReceiveTask') || is(bo, 'bpmn:SendTask')) return bo;
  const definitions = bo.get('eventDefinitions') || [];
  return definitions.find((d) => is(d, 'bpmn:MessageEventDefinition'));
}

function signalOf(element) {
  const definitions = getBusinessObject(element).get('eventDefinitions') || [];
  const signal = definitions.find((d) => is(d, 'bpmn:SignalEventDefinition'));
  return signal && signal.get('signalRef');
}

/** An entry: the component gets the entry's other fields as props (stable components, so
 * the panel keeps focus while one types). */
function field(id, component, props = {}, isEdited = isTextFieldEntryEdited) {
  return { id, component, isEdited, ...props };
}

function aduanGroups(element, config) {
  const translate = (text) => config.translate(text);
  const groups = [];
  const bo = getBusinessObject(element);
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
    groups.push({ id: 'aduan-assignment', label: translate('Assignment'), entries: [
      field('aduan-candidate-groups', PropertyEntry, { name: 'candidateGroups',
        label: 'Candidate groups',
        description: 'Comma-separated groups, e.g. regency_admin,supervisor. Leave empty to use the lane.' }),
      field('aduan-candidate-groups-expression', PropertyEntry, {
        name: 'candidateGroupsExpression', label: 'Candidate groups (expression)',
        description: 'A Python expression giving a list, e.g. ["opd_liaison:" + agency_code]' }),
      field('aduan-due-date', PropertyEntry, { name: 'dueDate', label: 'Due date',
        description: 'A Python expression giving the due time, e.g. sla["due_at"]' }),
    ] });
  }
  if (is(element, 'bpmn:UserTask')) {
    groups.push({ id: 'aduan-form', label: translate('Form'), entries: [
      field('aduan-form-schema', FormEntry, {}, isTextAreaEntryEdited),
      { id: 'aduan-form-preview', component: FormPreview },
    ] });
  }
  if (is(element, 'bpmn:ServiceTask')) {
    groups.push({ id: 'aduan-service-task', label: translate('Service'),
      entries: serviceEntries(element, config.services) });
  }
  if (is(element, 'bpmn:BusinessRuleTask')) {
    groups.push({ id: 'aduan-decision', label: translate('Decision'), entries: [
      field('aduan-called-decision', BodyExtensionEntry, { type: 'CalledDecisionId',
        label: 'Decision id',
        description: 'The id of a decision in a .dmn file deployed with this diagram.' }),
    ] });
  }
  if (is(element, 'bpmn:CallActivity')) {
    groups.push({ id: 'aduan-called-element', label: translate('Called process'),
      entries: [field('aduan-called-element', CalledElementEntry)] });
  }
  if (is(element, 'bpmn:SequenceFlow')) {
    const source = element.source && getBusinessObject(element.source);
    if (bo.get('conditionExpression') || (source && (is(source, 'bpmn:ExclusiveGateway')
        || is(source, 'bpmn:InclusiveGateway')))) {
      groups.push({ id: 'aduan-condition', label: translate('Condition'),
        entries: [field('aduan-condition', ConditionEntry, {}, isTextAreaEntryEdited)] });
    }
  }
  const message = messageOwner(element);
  if (message) {
    const throws = is(bo, 'bpmn:SendTask') || is(bo, 'bpmn:ThrowEvent');
    groups.push({ id: 'aduan-message', label: translate('Message data'), entries: [
      throws
        ? field('aduan-message-payload', BodyExtensionEntry, { type: 'MessagePayload',
          label: 'Payload', target: messageOwner,
          description: 'A Python expression: the data the message carries.' })
        : field('aduan-message-variable', BodyExtensionEntry, { type: 'MessageVariable',
          label: 'Variable', target: messageOwner,
          description: "The task data variable that receives the message's data." }),
    ] });
  }
  if (signalOf(element)) {
    groups.push({ id: 'aduan-signal', label: translate('Signal data'), entries: [
      field('aduan-signal-variable', BodyExtensionEntry, { type: 'VariableName',
        label: 'Variable', target: signalOf,
        description: "The task data variable that receives the signal's data." }),
    ] });
  }
  if (is(element, 'bpmn:Activity')) {
    const entries = [];
    if (is(element, 'bpmn:ScriptTask')) {
      entries.push(field('aduan-script', ScriptTaskEntry, {}, isTextAreaEntryEdited));
    }
    entries.push(
      field('aduan-pre-script', ScriptEntry, { type: 'PreScript',
        label: 'Pre-script (before the task)' }, isTextAreaEntryEdited),
      field('aduan-post-script', ScriptEntry, { type: 'PostScript',
        label: 'Post-script (after the task)' }, isTextAreaEntryEdited));
    groups.push({ id: 'aduan-scripts', label: translate('Scripts'), entries });
  }
  return groups;
}

class AduanPropertiesProvider {
  constructor(propertiesPanel, config, translate) {
    this.config = { services: (config && config.services) || [], translate };
    propertiesPanel.registerProvider(400, this);
  }

  getGroups(element) {
    return (groups) => {
      // A sequence flow's condition is ours (Python), not the Camunda provider's.
      const ours = aduanGroups(element, this.config);
      const general = groups.findIndex((g) => g.id === 'general');
      groups.splice(general < 0 ? groups.length : general + 1, 0, ...ours);
      return groups;
    };
  }
}
AduanPropertiesProvider.$inject = ['propertiesPanel', 'config.aduan', 'translate'];

export default {
  __init__: ['aduanPropertiesProvider'],
  aduanPropertiesProvider: ['type', AduanPropertiesProvider],
};
