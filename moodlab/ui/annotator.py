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
  <div class="ml-progress"></div>
  <div class="ml-error" hidden></div>
  <div class="ml-stage"><img class="ml-image" alt="the image to annotate"></div>
  <div class="ml-empty" hidden>Nothing is waiting for your vote. Thank you!</div>
  <div class="ml-moods"></div>
  <div class="ml-actions">
    <button class="ml-skip" data-key="0">Skip <kbd>0</kbd></button>
    <button class="ml-undo" data-key="u">Undo <kbd>U</kbd></button>
  </div>
</div>
"""

CSS = """
.ml-annotator { font-family: var(--st-font, sans-serif); color: var(--st-text-color); }
.ml-progress { font-size: 0.9rem; opacity: 0.75; margin-bottom: 0.5rem; }
.ml-error { color: #b42318; margin-bottom: 0.5rem; }
.ml-stage { height: 560px; display: flex; align-items: flex-start; }
/* The rules above set display, which would otherwise beat the hidden attribute. */
.ml-annotator [hidden] { display: none !important; }
.ml-image { max-height: 560px; max-width: 100%; border-radius: 0.5rem; }
.ml-moods, .ml-actions { display: grid; grid-template-columns: repeat(4, 1fr); gap: 0.5rem; }
.ml-moods { margin-top: 0.75rem; }
.ml-actions { margin-top: 0.5rem; }
.ml-annotator button {
  padding: 0.45rem 0.5rem; border-radius: 0.5rem; cursor: pointer; font-size: 1rem;
  border: 1px solid rgba(49, 51, 63, 0.2); background: var(--st-background-color, white);
  color: inherit; white-space: nowrap; font-family: inherit;
}
.ml-annotator button:hover { border-color: var(--st-primary-color); }
.ml-annotator button:disabled { opacity: 0.4; cursor: default; }
.ml-annotator kbd { opacity: 0.55; font-size: 0.8rem; margin-left: 0.35rem; font-family: inherit; }
"""

JS = """
// One state per browser tab, not per mount: Streamlit may hand us a fresh element on
// any rerun, and a second keydown listener would turn one key press into two votes.
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let s = window.__moodlabAnnotator;
  if (!s || s.owner !== data.owner) {
    s = window.__moodlabAnnotator = { owner: data.owner, outbox: [], seq: 0, preloaded: new Map() };
  }
  s.data = data;
  s.root = parentElement;
  s.setTriggerValue = setTriggerValue;
  s.outbox = s.outbox.filter((entry) => entry.seq > data.acked);
  s.seq = Math.max(s.seq, data.acked);
  const q = (selector) => s.root.querySelector(selector);

  const moodsBox = q(".ml-moods");
  if (!moodsBox.childElementCount) {
    for (const mood of data.moods) {
      const button = document.createElement("button");
      button.dataset.key = mood.key;
      button.innerHTML = `${mood.name} <kbd>${mood.key}</kbd>`;
      moodsBox.appendChild(button);
    }
  }
  for (const item of data.queue) {
    if (!s.preloaded.has(item.id)) {
      const image = new Image();
      image.src = item.src;
      image.decode().catch(() => {});
      s.preloaded.set(item.id, image);
    }
  }
  const known = new Set(data.queue.map((item) => item.id));
  for (const id of [...s.preloaded.keys()]) if (!known.has(id)) s.preloaded.delete(id);

  const pending = () => new Set(s.outbox.filter((e) => !e.undo).map((e) => e.image_id));
  const visible = () => s.data.queue.filter((item) => !pending().has(item.id));

  function render() {
    const current = visible()[0];
    q(".ml-progress").textContent = s.data.progress;
    const error = q(".ml-error");
    error.hidden = !s.data.error;
    error.textContent = s.data.error || "";
    q(".ml-stage").hidden = !current;
    q(".ml-empty").hidden = !!current;
    s.root.querySelectorAll(".ml-moods button, .ml-skip").forEach((b) => (b.disabled = !current));
    q(".ml-undo").disabled = !s.data.can_undo && !s.outbox.some((e) => !e.undo);
    const img = q(".ml-image");
    if (current && img.dataset.imageId !== String(current.id)) {
      img.src = current.src;
      img.dataset.imageId = String(current.id);
      // For the latency test: when the new image has been decoded and painted.
      const painted = () => { window.__moodlabShown = { id: current.id, at: performance.now() }; };
      const nextFrame = () => requestAnimationFrame(() => requestAnimationFrame(painted));
      img.decode().then(nextFrame, nextFrame);
    }
  }

  function send(entry) {
    s.seq += 1;
    s.outbox.push({ seq: s.seq, ...entry });
    render();
    s.setTriggerValue("outbox", s.outbox.slice());
  }

  s.press = (key) => {
    if (!s.root.isConnected) return;  // the page was left
    const current = visible()[0];
    if (key === "u") return send({ undo: true });
    if (!current) return;
    if (key === "0") return send({ image_id: current.id, mood: null });
    const mood = s.data.moods.find((m) => m.key === key);
    if (mood) send({ image_id: current.id, mood: mood.name });
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
      if (state && /^[0-8u]$/.test(key)) {
        event.preventDefault();
        state.press(key);
      }
    });
  }
  if (!s.root.__moodlabClicks) {
    s.root.__moodlabClicks = true;
    s.root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-key]");
      if (button && !button.disabled) window.__moodlabAnnotator.press(button.dataset.key);
    });
  }
  render();
}
"""

annotator = st.components.v2.component("moodlab_annotator", html=HTML, css=CSS, js=JS)


@lru_cache(maxsize=64)
def data_url(path: Path) -> str:
    """The display copy inline, so the browser can hold the next ones ready."""
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
