"""The annotate widget: the image, the eight mood keys, skip and undo, in the browser.

Why a component: a Streamlit button press waits for a rerun before the next
image can be fetched and painted (about 100-150 ms here even for a bare app).
This widget keeps the next images already decoded in the browser and swaps on
the key press, then sends the answer. Answers go out as an outbox of numbered
entries that the page applies idempotently (moodlab.votes.annotation.apply_outbox),
so a send that Streamlit coalesces loses nothing.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

import streamlit as st

HTML = """
<div class="ml-annotator">
  <div class="ml-progress"><span class="ml-counts"></span><span class="ml-keys"></span></div>
  <div class="ml-error" hidden></div>
  <div class="ml-guide" hidden role="region" aria-label="The guidelines in short"></div>
  <div class="ml-stage">
    <button class="ml-zoom-in" title="Show at full resolution (Z)"
      aria-label="Show the image at full resolution">
      <img class="ml-image" alt="the image to annotate">
    </button>
  </div>
  <div class="ml-loading" hidden role="status">Loading the next images…</div>
  <div class="ml-empty" hidden>Nothing is waiting for your vote. Thank you!</div>
  <div class="ml-moods"></div>
  <div class="ml-actions">
    <button class="ml-skip" data-key="0">Skip <kbd>0</kbd></button>
    <button class="ml-undo" data-key="u">Undo <kbd>U</kbd></button>
    <button class="ml-help" data-key="?" aria-expanded="false">Guidelines <kbd>?</kbd></button>
  </div>
  <div class="ml-zoom" hidden role="dialog" aria-label="The image at full resolution">
    <div class="ml-zoom-bar">
      <span class="ml-zoom-note" role="status"></span>
      <button class="ml-zoom-close">Close <kbd>Esc</kbd></button>
    </div>
    <img class="ml-zoom-image" alt="the image at full resolution">
  </div>
</div>
"""

CSS = """
.ml-annotator { font-family: var(--st-font, sans-serif); color: var(--st-text-color); }
.ml-progress { font-size: 0.9rem; opacity: 0.75; margin-bottom: 0.5rem; }
.ml-error { color: #b42318; margin-bottom: 0.5rem; }
/* No stage of a fixed height: the image takes the height it needs, up to what leaves
   the ten buttons on screen below it (the script sets --ml-image-max). */
.ml-stage { display: flex; justify-content: center; }
/* The rules above and below set display, which would otherwise beat the hidden attribute. */
.ml-annotator [hidden] { display: none !important; }
.ml-annotator .ml-zoom-in {
  padding: 0; border: 0; background: none; cursor: zoom-in; display: block; min-height: 0;
}
.ml-image {
  display: block; max-width: 100%; max-height: var(--ml-image-max, 60vh);
  border-radius: 0.5rem;
}
/* Four buttons a row, eight moods in two rows in circle order, as on a laptop. */
.ml-moods, .ml-actions { display: grid; grid-template-columns: repeat(4, 1fr); gap: 0.5rem; }
.ml-actions { grid-template-columns: repeat(2, 1fr); }
@media (min-width: 640px) {
  .ml-actions { grid-template-columns: repeat(4, 1fr); }
}
.ml-loading { min-height: 12rem; opacity: 0.7; }
.ml-moods { margin-top: 0.5rem; }
.ml-actions { margin-top: 0.5rem; }
.ml-annotator button {
  padding: 0.25rem 0.4rem; border-radius: 0.5rem; cursor: pointer; font-size: 1rem;
  border: 1px solid rgba(49, 51, 63, 0.2); background: var(--st-background-color, white);
  color: inherit; white-space: nowrap; font-family: inherit; min-width: 0;
  /* A finger's size (44 px), and no double-tap zoom delay on a phone. */
  min-height: 2.75rem; touch-action: manipulation;
}
.ml-annotator button:hover { border-color: var(--st-primary-color); }
.ml-annotator button:disabled { opacity: 0.4; cursor: default; }
/* Each mood's one-line definition, from the lab's guidelines (moodlab.votes.guidelines). */
.ml-annotator .ml-def {
  display: block; font-size: 0.72rem; opacity: 0.7; white-space: normal; line-height: 1.2;
  margin-top: 0.15rem;
}
/* On a phone, and on a screen under 900 px tall (a laptop's 800), the keys stay one line
   each so the image and all actions fit: their tooltip and "?" show the definitions. */
@media (max-width: 639px), (max-height: 899px) { .ml-annotator .ml-def { display: none; } }
.ml-guide {
  margin-bottom: 0.75rem; padding: 0.5rem 0.75rem; font-size: 0.9rem; line-height: 1.35;
  border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem;
}
.ml-guide dl {
  display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 0.75rem; margin: 0;
}
.ml-guide p { margin: 0.5rem 0 0; opacity: 0.8; }
.ml-guide dt { font-weight: 600; }
.ml-guide dd { margin: 0; opacity: 0.85; }
.ml-annotator kbd { opacity: 0.55; font-size: 0.8rem; margin-left: 0.35rem; font-family: inherit; }
/* On a phone, or wherever there is no keyboard, no key hints: the labels need the room. */
@media (max-width: 639px), (hover: none) and (pointer: coarse) {
  .ml-annotator kbd, .ml-keys { display: none; }
  .ml-annotator button { font-size: 0.95rem; padding: 0.25rem 0.15rem; }
  .ml-moods, .ml-actions { gap: 0.375rem; }
}
/* The full-resolution view: the whole window, the image at its own size, scrolled
   with a finger or the wheel; a tap on the image or Esc closes it. */
.ml-zoom {
  position: fixed; inset: 0; z-index: 1000200; background: rgba(14, 17, 23, 0.94);
  overflow: auto; overscroll-behavior: contain;
}
.ml-zoom-bar {
  position: sticky; top: 0; left: 0; display: flex; gap: 0.75rem; align-items: center;
  justify-content: space-between; padding: 0.5rem 0.75rem; color: white;
  background: rgba(14, 17, 23, 0.8); font-size: 0.9rem;
}
.ml-annotator .ml-zoom-close { background: white; color: #0e1117; }
.ml-zoom-image { display: block; max-width: none; margin: 0 auto; cursor: zoom-out; }
"""

JS = """
// One state per browser tab, not per mount: Streamlit may hand us a fresh element on
// any rerun, and a second keydown listener would turn one key press into two votes.
//
// The browser keeps its own queue: what the server offers is merged in (new images go
// last), so a rerun never swaps the image on screen for another one, and every answer
// names the image that was on screen when its key was pressed. Unacknowledged answers
// are re-sent until the server has them; while the next images are on their way the
// widget says "loading", never "done".
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let s = window.__moodlabAnnotator;
  if (!s || s.owner !== data.owner) {
    if (s && s.timer) clearInterval(s.timer);
    s = window.__moodlabAnnotator = {
      owner: data.owner, outbox: [], seq: 0, preloaded: new Map(), queue: [], done: [],
      lastSend: 0, timer: null, fullSize: new Map(), zoomed: null,
      missing: [], lastAsk: 0, asks: 0,
    };
  }
  s.data = data;
  s.root = parentElement;
  s.setTriggerValue = setTriggerValue;
  s.outbox = s.outbox.filter((entry) => entry.seq > data.acked);
  s.seq = Math.max(s.seq, data.acked);
  const q = (selector) => s.root.querySelector(selector);
  // The full-resolution copy a zoom asked for comes once, with the rerun that follows.
  if (data.zoom) {
    s.fullSize.set(data.zoom.id, data.zoom.src);
    for (const id of [...s.fullSize.keys()].slice(0, -3)) s.fullSize.delete(id);  // megabytes each
  }

  const moodsBox = q(".ml-moods");
  if (!moodsBox.childElementCount) {
    for (const mood of data.moods) {
      const button = document.createElement("button");
      button.dataset.key = mood.key;
      button.innerHTML = `${mood.name} <kbd>${mood.key}</kbd>`;
      moodsBox.appendChild(button);
    }
  }
  // The lab's one-line definitions: on each mood's button, and in the panel "?" opens.
  // Text from the lead: set as text, never as HTML.
  const guide = q(".ml-guide");
  if (guide.dataset.version !== String(data.guidelines_version)) {
    guide.dataset.version = String(data.guidelines_version);
    guide.replaceChildren();
    const list = document.createElement("dl");
    moodsBox.querySelectorAll("button").forEach((button, i) => {
      const mood = data.moods[i];
      let line = button.querySelector(".ml-def");
      if (!line) {
        line = document.createElement("span");
        line.className = "ml-def";
        button.appendChild(line);
      }
      line.textContent = mood.definition || "";
      button.title = mood.definition || "";
      const term = document.createElement("dt");
      term.textContent = `${mood.key} ${mood.name}`;
      const text = document.createElement("dd");
      text.textContent = mood.definition || "";
      list.append(term, text);
    });
    const more = document.createElement("p");
    more.textContent = "Key 0: skip (no mood fits). Key U: undo the last answer. Key ?: close"
      + " this. The full guidelines, with example images, are on the Guidelines page.";
    guide.append(list, more);
  }
  // The server sends an image's data only the first time it offers it to this tab;
  // one the browser does not hold (a lost update) is asked for again.
  const missing = [];
  for (const item of data.queue) {
    if (!s.preloaded.has(item.id)) {
      if (!item.src) { missing.push(item.id); continue; }
      const image = new Image();
      image.src = item.src;
      image.decode().catch(() => {});
      s.preloaded.set(item.id, image);
    }
  }
  // Merge: the image on screen stays first; others stay while the server still offers
  // them; offered images not yet held or answered here go last.
  const offered = new Map(
    data.queue.filter((item) => s.preloaded.has(item.id)).map((item) => [item.id, item])
  );
  const answered = new Set(s.done.map((item) => item.id));
  const onScreen = s.queue[0];
  s.queue = s.queue.filter((item, i) => (i === 0 && item === onScreen) || offered.has(item.id));
  const held = new Set(s.queue.map((item) => item.id));
  for (const item of offered.values()) {
    if (!held.has(item.id) && !answered.has(item.id)) s.queue.push(item);
  }
  // An image whose answer was undone from the server's record (after a reload this tab
  // does not remember it) comes back on screen first.
  const back = s.queue.findIndex((item) => item.id === data.undone);
  if (back > 0 && !s.outbox.length) s.queue.unshift(...s.queue.splice(back, 1));
  s.done = s.done.slice(-200);
  const keep = new Set([...s.queue, ...s.done, ...data.queue].map((item) => item.id));
  for (const id of [...s.preloaded.keys()]) if (!keep.has(id)) s.preloaded.delete(id);

  // The image is as tall as it may be with the ten buttons still on screen below it,
  // with the page scrolled to its top: no fixed stage, no empty band under a small image.
  function fit() {
    const stage = q(".ml-stage");
    if (stage.hidden || !s.root.isConnected) return;
    let scrolled = window.scrollY;
    for (let node = s.root; node; node = node.parentNode || node.host) {
      if (node.nodeType === 1 && node.scrollTop) scrolled += node.scrollTop;
    }
    const box = stage.getBoundingClientRect();
    const below = q(".ml-actions").getBoundingClientRect().bottom - box.bottom;
    const room = window.innerHeight - (box.top + scrolled) - below - 12;
    s.root.style.setProperty("--ml-image-max", `${Math.max(160, Math.floor(room))}px`);
  }
  s.fit = fit;

  // Tap (or Z): the image at full resolution over the whole window; tap or Esc closes it.
  function showZoom() {
    const zoom = q(".ml-zoom");
    const id = s.zoomed;
    zoom.hidden = id === null;
    if (id === null) return;
    const image = q(".ml-zoom-image");
    const full = s.fullSize.get(id);
    const src = full || (s.preloaded.get(id) || {}).src;
    if (src && image.getAttribute("src") !== src) image.src = src;
    image.dataset.imageId = String(id);
    image.dataset.full = full ? "yes" : "no";
    const note = q(".ml-zoom-note");
    if (!full) note.textContent = "Loading the full resolution…";
    const sized = () => {
      if (full && s.zoomed === id) {
        note.textContent = `${image.naturalWidth} × ${image.naturalHeight} px, full resolution`;
      }
    };
    if (image.complete) sized(); else image.onload = sized;
  }
  s.zoom = (open) => {
    const current = s.queue[0];
    s.zoomed = open && current ? current.id : null;
    if (s.zoomed !== null && !s.fullSize.has(s.zoomed)) s.setTriggerValue("zoom", s.zoomed);
    showZoom();
  };

  function render() {
    const current = s.queue[0];
    q(".ml-counts").textContent = s.data.counts;
    q(".ml-keys").textContent = s.data.keys ? ` · ${s.data.keys}` : "";
    const error = q(".ml-error");
    error.hidden = !s.data.error;
    error.textContent = s.data.error || "";
    const waiting = !current && (s.outbox.length > 0 || s.data.left > 0);
    q(".ml-stage").hidden = !current;
    q(".ml-loading").hidden = !waiting;
    q(".ml-empty").hidden = !!current || waiting;
    s.root.querySelectorAll(".ml-moods button, .ml-skip").forEach((b) => (b.disabled = !current));
    q(".ml-undo").disabled = !s.data.can_undo && !s.done.length;
    const img = q(".ml-image");
    if (current && img.dataset.imageId !== String(current.id)) {
      img.src = s.preloaded.get(current.id).src;
      img.dataset.imageId = String(current.id);
      // For the latency test: when the new image has been decoded and painted.
      const painted = () => { window.__moodlabShown = { id: current.id, at: performance.now() }; };
      const nextFrame = () => requestAnimationFrame(() => requestAnimationFrame(painted));
      img.decode().then(nextFrame, nextFrame);
    }
    if (s.zoomed !== null && (!current || s.zoomed !== current.id)) s.zoomed = null;
    showZoom();
    requestAnimationFrame(fit);
  }

  // Images the browser lacks are asked for until they come. Like an answer, the ask can be
  // dropped (Streamlit folds sends that meet a rerun into one), so it goes out again.
  function ask() {
    s.lastAsk = performance.now();
    s.asks += 1;
    s.setTriggerValue("missing", { ask: s.asks, ids: s.missing.slice() });
  }

  function flush() {
    s.lastSend = performance.now();
    s.setTriggerValue("outbox", s.outbox.slice());
  }

  function send(entry) {
    s.seq += 1;
    s.outbox.push({ seq: s.seq, ...entry });
    render();
    flush();
  }

  s.press = (key) => {
    if (!s.root.isConnected) return;  // the page was left
    if (key === "?") {
      const guide = q(".ml-guide");
      guide.hidden = !guide.hidden;
      q(".ml-help").setAttribute("aria-expanded", String(!guide.hidden));
      return;
    }
    if (key === "escape" || key === "z") return s.zoom(key === "z" && s.zoomed === null);
    if (s.zoomed !== null) s.zoom(false);  // a vote from the zoomed view closes it
    if (key === "u") {
      const last = s.done.pop();
      if (last) s.queue.unshift(last);
      // The image undone, when this tab knows it; after a reload the server's newest.
      return send(last ? { undo: true, image_id: last.id } : { undo: true });
    }
    const current = s.queue[0];
    if (!current) return;  // loading: no image is on screen to answer
    const mood = key === "0" ? null : s.data.moods.find((m) => m.key === key);
    if (key !== "0" && !mood) return;
    s.queue.shift();
    s.done.push(current);
    send({ image_id: current.id, mood: mood ? mood.name : null });
  };

  if (!window.__moodlabKeys) {
    window.__moodlabKeys = true;
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(target && target.tagName);
      if (typing || (target && target.isContentEditable)) return;
      const key = event.key.toLowerCase();
      const state = window.__moodlabAnnotator;
      if (state && (/^[0-8uz?]$/.test(key) || (key === "escape" && state.zoomed !== null))) {
        event.preventDefault();
        state.press(key);
      }
    });
  }
  if (!s.root.__moodlabClicks) {
    s.root.__moodlabClicks = true;
    s.root.addEventListener("click", (event) => {
      const state = window.__moodlabAnnotator;
      if (event.target.closest(".ml-zoom-in")) return state.zoom(true);
      if (event.target.closest(".ml-zoom-close, .ml-zoom-image")) return state.zoom(false);
      const button = event.target.closest("button[data-key]");
      if (button && !button.disabled) state.press(button.dataset.key);
    });
  }
  if (!window.__moodlabFit) {
    window.__moodlabFit = true;
    window.addEventListener("resize", () => {
      const state = window.__moodlabAnnotator;
      if (state && state.fit) state.fit();
    });
  }
  // A send Streamlit dropped (it was busy with a rerun) is sent again: answers still
  // waiting for their acknowledgement, and asks for images still missing, go out every
  // 0.4 s until the server has them.
  if (!s.timer) {
    s.timer = setInterval(() => {
      const state = window.__moodlabAnnotator;
      if (state !== s || !s.root.isConnected) return;
      if (s.outbox.length && performance.now() - s.lastSend > 400) flush();
      if (s.missing.length && performance.now() - s.lastAsk > 400) ask();
    }, 200);
  }
  render();
  s.missing = missing;
  if (missing.length) ask();
}
"""

annotator = st.components.v2.component("moodlab_annotator", html=HTML, css=CSS, js=JS)


@lru_cache(maxsize=64)
def data_url(path: Path) -> str:
    """The display copy inline, so the browser can hold the next ones ready."""
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def full_size_url(media_type: str, data: bytes) -> str:
    """A full-resolution original inline, for the zoom (never cached: it may be megabytes)."""
    return f"data:{media_type};base64," + base64.b64encode(data).decode("ascii")
