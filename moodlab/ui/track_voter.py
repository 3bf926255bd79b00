"""The music vote widget: a track's player, the eight mood keys, "not usable" and undo.

Why a component, as for the Annotate page (moodlab/ui/annotator.py): a vote through
Streamlit buttons waited for a rerun of the page before the next track showed (0.3 to
1.2 s here). This widget holds the next tracks of the annotator's queue, swaps to the
next one on the vote and sends the vote as a numbered outbox entry
(moodlab.music.vote_outbox), re-sent until acknowledged. The audio comes from
the file route (moodlab/ui/files.py, ``track_url``), at an address of the annotator's own.

A track must be heard before it is voted: its buttons stay disabled until it has
been played to its end or for LISTEN_S seconds (seeking does not count, nor does a seek
to the end), and the entry says how long it played, which the server checks again.
"""

from __future__ import annotations

import streamlit as st

HTML = """
<div class="mv-voter">
  <div class="mv-progress"><span class="mv-counts"></span><span class="mv-keys"></span></div>
  <div class="mv-error" hidden></div>
  <div class="mv-track">
    <h3 class="mv-name"></h3>
    <audio class="mv-player" controls preload="auto"></audio>
    <div class="mv-listen" role="status"></div>
  </div>
  <div class="mv-loading" hidden role="status">Loading the next tracks…</div>
  <div class="mv-empty" hidden>No track is waiting for your vote.</div>
  <div class="mv-moods"></div>
  <div class="mv-actions">
    <button class="mv-unusable" data-key="9">Not usable <kbd>9</kbd></button>
    <button class="mv-undo" data-key="u">Undo <kbd>U</kbd></button>
  </div>
</div>
"""

CSS = """
.mv-voter { font-family: var(--st-font, sans-serif); color: var(--st-text-color); }
.mv-progress { font-size: 0.9rem; opacity: 0.75; margin-bottom: 0.5rem; }
.mv-error { color: #b42318; margin-bottom: 0.5rem; }
.mv-voter [hidden] { display: none !important; }
.mv-name { margin: 0.25rem 0 0.5rem; font-size: 1.5rem; font-weight: 600; }
.mv-player { width: 100%; max-width: 40rem; display: block; }
.mv-listen { font-size: 0.9rem; opacity: 0.75; min-height: 1.4rem; margin-top: 0.25rem; }
.mv-moods, .mv-actions { display: grid; grid-template-columns: repeat(4, 1fr); gap: 0.5rem; }
.mv-moods { margin-top: 0.5rem; }
.mv-actions { margin-top: 0.5rem; grid-template-columns: repeat(2, 1fr); }
@media (min-width: 640px) { .mv-actions { grid-template-columns: repeat(4, 1fr); } }
.mv-voter button {
  padding: 0.25rem 0.4rem; border-radius: 0.5rem; cursor: pointer; font-size: 1rem;
  border: 1px solid rgba(49, 51, 63, 0.2); background: var(--st-background-color, white);
  color: inherit; white-space: nowrap; font-family: inherit; min-width: 0;
  min-height: 2.75rem; touch-action: manipulation;
}
.mv-voter button:hover { border-color: var(--st-primary-color); }
.mv-voter button:disabled { opacity: 0.4; cursor: default; }
.mv-voter kbd { opacity: 0.55; font-size: 0.8rem; margin-left: 0.35rem; font-family: inherit; }
@media (max-width: 639px), (hover: none) and (pointer: coarse) {
  .mv-voter kbd, .mv-keys { display: none; }
  .mv-voter button { font-size: 0.95rem; padding: 0.25rem 0.15rem; }
  .mv-moods, .mv-actions { gap: 0.375rem; }
}
"""

JS = """
// One state per browser tab (as the annotator's): the queue of tracks, what was heard
// of the one on screen, and the votes not yet acknowledged.
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let s = window.__moodlabTrackVoter;
  if (!s || s.owner !== data.owner) {
    if (s && s.timer) clearInterval(s.timer);
    s = window.__moodlabTrackVoter = {
      owner: data.owner, outbox: [], seq: 0, queue: [], done: [], heard: new Map(),
      lastSend: 0, timer: null, warm: new Map(),
    };
  }
  s.data = data;
  s.root = parentElement;
  s.setTriggerValue = setTriggerValue;
  s.outbox = s.outbox.filter((entry) => entry.seq > data.acked);
  s.seq = Math.max(s.seq, data.acked);
  const q = (selector) => s.root.querySelector(selector);

  const moodsBox = q(".mv-moods");
  if (!moodsBox.childElementCount) {
    for (const mood of data.moods) {
      const button = document.createElement("button");
      button.dataset.key = mood.key;
      button.innerHTML = `${mood.name} <kbd>${mood.key}</kbd>`;
      moodsBox.appendChild(button);
    }
  }
  // Merge what the server offers: the track on screen stays first (unless the server
  // puts an undone one first), answered ones do not come back.
  const answered = new Set(s.done.map((t) => t.id));
  const onScreen = s.queue[0];
  const offered = data.queue.filter((t) => !answered.has(t.id) || t.id === data.first);
  if (data.first !== null && offered.length && offered[0].id === data.first) {
    s.queue = offered;
  } else {
    const ids = new Set(offered.map((t) => t.id));
    s.queue = s.queue.filter((t, i) => (i === 0 && t === onScreen) || ids.has(t.id));
    const held = new Set(s.queue.map((t) => t.id));
    for (const t of offered) if (!held.has(t.id)) s.queue.push(t);
  }
  s.done = s.done.slice(-50);

  const player = q(".mv-player");
  function heard(track) {
    return s.heard.get(track.id) || { s: 0, ended: false, at: null, clock: 0 };
  }
  function enough(track) {
    const h = heard(track);
    return h.ended || h.s >= Math.min(s.data.listen_s, Math.max(0, track.duration_s - 0.5));
  }

  function render() {
    const current = s.queue[0];
    q(".mv-counts").textContent = s.data.counts;
    q(".mv-keys").textContent = s.data.keys ? ` · ${s.data.keys}` : "";
    const error = q(".mv-error");
    error.hidden = !s.data.error;
    error.textContent = s.data.error || "";
    const waiting = !current && (s.outbox.length > 0 || s.data.left > 0);
    q(".mv-track").hidden = !current;
    q(".mv-loading").hidden = !waiting;
    q(".mv-empty").hidden = !!current || waiting;
    const ready = current && enough(current);
    s.root.querySelectorAll(".mv-moods button, .mv-unusable").forEach((b) => (b.disabled = !ready));
    q(".mv-undo").disabled = !s.data.can_undo && !s.done.length;
    if (!current) { player.removeAttribute("src"); return; }
    q(".mv-name").textContent = current.name;
    if (player.dataset.trackId !== String(current.id)) {
      const playing = player.dataset.trackId && s.autoplay;
      player.dataset.trackId = String(current.id);
      player.src = current.src;
      // After a vote the next track plays on its own (the vote was the user's gesture).
      if (playing) player.play().catch(() => {});
      // For the latency test: when the next track is on screen with its player.
      requestAnimationFrame(() => requestAnimationFrame(() => {
        window.__moodlabTrackShown = { id: current.id, at: performance.now() };
      }));
    }
    const h = heard(current);
    const left = Math.ceil(Math.min(s.data.listen_s, current.duration_s - 0.5) - h.s);
    q(".mv-listen").textContent = ready
      ? (current.license ? `Licence: ${current.license}` : "")
      : `Play the track: the mood buttons open after ${Math.max(1, left)} s of listening.`;
    // The next track's audio is fetched while this one plays.
    const next = s.queue[1];
    if (next && !s.warm.has(next.id)) {
      const warm = new Audio();
      warm.preload = "auto";
      warm.src = next.src;
      s.warm.set(next.id, warm);
      for (const id of [...s.warm.keys()].slice(0, -3)) s.warm.delete(id);
    }
  }
  s.render = render;

  if (!player.__moodlabHeard) {
    player.__moodlabHeard = true;
    // Seconds actually played: steps of the playing position no longer than the clock
    // (times the playback rate) allows since the last step; a seek's jump never counts.
    const played = (end) => {
      const state = window.__moodlabTrackVoter;
      const current = state.queue[0];
      if (!current || player.dataset.trackId !== String(current.id)) return;
      const h = state.heard.get(current.id) || { s: 0, ended: false, at: null, clock: 0 };
      const now = performance.now();
      const step = h.at === null ? 0 : player.currentTime - h.at;
      const most = ((now - h.clock) / 1000) * player.playbackRate + 0.25;
      if (!player.seeking && step > 0 && step <= most) h.s += step;
      h.at = end ? null : player.currentTime;
      h.clock = now;
      // Its end counts only when it was played there: a seek to the end also ends it.
      const length = Number.isFinite(player.duration) ? player.duration : current.duration_s;
      if (end && h.s >= length - 1) h.ended = true;
      state.heard.set(current.id, h);
      state.render();
    };
    player.addEventListener("timeupdate", () => played(false));
    player.addEventListener("ended", () => played(true));
    player.addEventListener("seeking", () => {
      const state = window.__moodlabTrackVoter;
      const current = state.queue[0];
      const h = current && state.heard.get(current.id);
      if (h) h.at = null;
    });
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
    if (!s.root.isConnected) return;
    if (key === "u") {
      const last = s.done.pop();
      if (last) s.queue.unshift(last);
      return send({ undo: true });
    }
    const current = s.queue[0];
    if (!current || !enough(current)) return;
    const mood = key === "9" ? null : s.data.moods.find((m) => m.key === key);
    if (key !== "9" && !mood) return;
    player.pause();
    s.autoplay = true;
    s.queue.shift();
    s.done.push(current);
    const h = heard(current);
    send({
      track_id: current.id,
      mood: mood ? mood.name : null,
      listened_s: h.ended ? current.duration_s : Math.round(h.s * 10) / 10,
    });
  };

  if (!window.__moodlabTrackKeys) {
    window.__moodlabTrackKeys = true;
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(target && target.tagName);
      if (typing || (target && target.isContentEditable)) return;
      const state = window.__moodlabTrackVoter;
      const key = event.key.toLowerCase();
      if (state && state.root.isConnected && /^[1-9u]$/.test(key)) {
        event.preventDefault();
        state.press(key);
      }
    });
  }
  if (!s.root.__moodlabClicks) {
    s.root.__moodlabClicks = true;
    s.root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-key]");
      if (button && !button.disabled) window.__moodlabTrackVoter.press(button.dataset.key);
    });
  }
  if (!s.timer) {
    s.timer = setInterval(() => {
      const state = window.__moodlabTrackVoter;
      if (state !== s || !s.root.isConnected) return;
      if (s.outbox.length && performance.now() - s.lastSend > 400) flush();
    }, 200);
  }
  render();
}
"""

track_voter = st.components.v2.component("moodlab_track_voter", html=HTML, css=CSS, js=JS)
