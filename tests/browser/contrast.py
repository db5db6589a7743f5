"""WCAG contrast of the text on a page, measured in the browser (tests/browser/test_everyone.py).

`low_contrast(page)` runs CONTRAST_JS in the page: every visible element with text of its
own (a text node child, or a form control's value) has its colour compared with the colour
behind it, worked out by walking up the ancestors and laying their background colours over
each other (over white, the canvas), the text's alpha and the ancestors' opacity included.
The ratio is WCAG 2's: (L1 + 0.05) / (L2 + 0.05) of the relative luminances. Text over a
background image (a map tile, a photo) cannot be measured this way and is left out, as is
the text of disabled controls (WCAG 1.4.3 exempts inactive components).
"""

from __future__ import annotations

from typing import Any

MINIMUM = 4.5

CONTRAST_JS = r"""
(minimum) => {
  const parse = (text) => {
    const m = /rgba?\(([^)]*)\)/.exec(text || "");
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => {  // top (r, g, b, a) laid over an opaque colour
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a));
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const background = (element) => {  // null: over an image, not measurable
    const layers = [];
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      const style = getComputedStyle(node);
      const colour = parse(style.backgroundColor);
      const opaque = colour && colour[3] >= 1;
      if (style.backgroundImage !== "none" && !opaque) return null;
      if (node.tagName === "IMG" || node.tagName === "CANVAS") return null;
      if (colour && colour[3] > 0) layers.push(colour);
      if (opaque) break;
    }
    let below = [255, 255, 255];
    for (const layer of layers.reverse()) below = over(layer, below);
    return below;
  };
  const opacity = (element) => {
    let value = 1;
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      value *= parseFloat(getComputedStyle(node).opacity);
    }
    return value;
  };
  const describe = (element) => {
    let text = element.tagName.toLowerCase();
    if (element.id) text += "#" + element.id;
    const classes = [...element.classList].slice(0, 3);
    if (classes.length) text += "." + classes.join(".");
    return text;
  };
  const ownText = (element) => {
    if (["INPUT", "TEXTAREA"].includes(element.tagName)) {
      return ["hidden", "checkbox", "radio", "file", "range", "color"].includes(element.type)
        ? "" : element.value;
    }
    if (element.tagName === "SELECT") {
      return element.selectedOptions.length ? element.selectedOptions[0].text : "";
    }
    if (["OPTION", "SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(element.tagName)) {
      return "";
    }
    return [...element.childNodes].filter((n) => n.nodeType === 3)
      .map((n) => n.textContent).join("");
  };
  const found = [];
  let measured = 0;
  for (const element of document.body.querySelectorAll("*")) {
    const text = ownText(element).replace(/\s+/g, " ").trim();
    if (!text || element.disabled || element.closest("[disabled], fieldset:disabled")) continue;
    if (!element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    const box = element.getBoundingClientRect();
    if (box.width < 2 || box.height < 2) continue;  // visually hidden (screen readers only)
    const style = getComputedStyle(element);
    if (style.clipPath !== "none" || style.clip !== "auto") continue;
    const behind = background(element);
    if (behind === null) continue;
    const colour = parse(style.color);
    if (!colour) continue;
    const shown = over([...colour.slice(0, 3), colour[3] * opacity(element)], behind);
    const value = ratio(shown, behind);
    measured += 1;
    if (value < minimum) {
      found.push({element: describe(element), text: text.slice(0, 60),
                   ratio: Math.round(value * 100) / 100, colour: style.color,
                   background: "rgb(" + behind.map(Math.round).join(", ") + ")"});
    }
  }
  return {measured, found};
}
"""


def low_contrast(page: Any, minimum: float = MINIMUM) -> tuple[int, list[dict[str, Any]]]:
    """(how many texts were measured, those below `minimum`) on the page as it is now."""
    result = page.evaluate(CONTRAST_JS, minimum)
    return result["measured"], result["found"]


def listed(found: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {f['ratio']}:1 {f['element']} {f['text']!r} ({f['colour']} on "
                     f"{f['background']})" for f in found)
