/**
 * The studio's words: a `translate` service for bpmn-js, dmn-js and the properties panel,
 * and a plain `translator(lang)` for the page script (studio-modeler.js).
 *
 * English is the source language (the libraries' own strings and ours); `id` looks each
 * string up in the Indonesian dictionary (./id.js) and falls back to the English. Templates
 * keep their `{name}` placeholders, filled from the replacements as the libraries expect.
 */

import INDONESIAN from './id.js';

const DICTIONARIES = { id: INDONESIAN };

export function translator(lang) {
  const words = DICTIONARIES[lang] || {};
  return function translate(template, replacements) {
    const text = Object.prototype.hasOwnProperty.call(words, template) ? words[template] : template;
    return text.replace(/{([^}]+)}/g, (whole, key) => (
      replacements && key in replacements ? String(replacements[key]) : whole));
  };
}

/** A bpmn-js/dmn-js module whose `translate` speaks `lang` ("id"; anything else: English). */
export function translateModule(lang) {
  return { translate: ['value', translator(lang)] };
}
