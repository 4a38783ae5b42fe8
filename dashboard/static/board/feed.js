// The board's websocket `/ws/board` (docs/board.md): say who we are and the last position we
// hold, take a snapshot or resume where we were, apply each delta only if it follows what we
// hold, and reconnect with our last position whenever the line breaks or a delta does not
// follow (a missed frame must never leave the wall showing a wrong count).
"use strict";

window.BoardFeed = (() => {
  const CLOSE = {
    resync: 4000, badFirstFrame: 4400, signedOut: 4401, forbidden: 4403, dropped: 4008, roleChanged: 4012,
  };
  const FIRST_DELAY_MS = 500;
  const MAX_DELAY_MS = 30_000;

  // start({ token, onSnapshot(board), onDelta(delta), holds() -> {position} | null,
  //         onState(state, info), onSignedOut(), onForbidden() }) -> { stop, reconnect }
  // `holds()` answers the state the page keeps (the feed keeps none of its own), so that the
  // position sent on reconnecting is always the position of what is shown as live.
  const start = (hooks) => {
    let socket = null;
    let stopped = false;
    let timer = null;
    let delay = FIRST_DELAY_MS;
    let resyncs = 0;
    // After a role change what we hold was the old role's board: the next open asks afresh.
    let fresh = false;
    // Sockets we closed ourselves for a gap: their close code is whatever the server echoes.
    const resyncing = new WeakSet();

    const url = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/board`;

    const later = (ms) => {
      clearTimeout(timer);
      if (stopped) return;
      hooks.onState("retrying", { delay: ms });
      timer = setTimeout(open, ms);
    };

    const backOff = () => {
      const wait = navigator.onLine === false ? MAX_DELAY_MS : delay;
      delay = Math.min(delay * 2, MAX_DELAY_MS);
      later(wait);
    };

    const onMessage = (ws, event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        console.warn("board: a frame that is not JSON", event.data);
        return;
      }
      if (frame.type === "snapshot") {
        const board = frame.board || {};
        if (typeof board.position !== "number") board.position = frame.position;
        hooks.onSnapshot(board);
        delay = FIRST_DELAY_MS;
        resyncs = 0;
        hooks.onState("live");
      } else if (frame.type === "delta" || frame.type === "deltas") {
        // A "deltas" frame is its deltas one by one, in order.
        for (const delta of frame.type === "deltas" ? frame.deltas : [frame]) {
          const held = hooks.holds();
          const verdict = held ? BoardState.verdict(held.position, delta) : "resync";
          if (verdict === "apply") {
            hooks.onDelta(delta);
            delay = FIRST_DELAY_MS;
            resyncs = 0;
          } else if (verdict === "resync") {
            // A gap: close and come back with the last position we hold; the server sends
            // what we missed or a fresh snapshot.
            console.warn(`board: delta after ${delta.after} does not follow ${held && held.position}; reconnecting`);
            resyncs += 1;
            resyncing.add(ws);
            ws.close(CLOSE.resync, "resync");
            return;
          }
        }
      } else if (frame.type === "dropped") {
        hooks.onState("dropped", { reason: frame.reason || "" });
      }
    };

    const onClose = (ws, event) => {
      if (ws !== socket) return;
      socket = null;
      if (stopped) return;
      if (event.code === CLOSE.signedOut) {
        stopped = true;
        hooks.onState("off");
        hooks.onSignedOut();
      } else if (event.code === CLOSE.forbidden) {
        stopped = true;
        hooks.onState("off");
        hooks.onForbidden();
      } else if (event.code === CLOSE.roleChanged) {
        fresh = true;
        later(0);
      } else if (resyncing.has(ws) && resyncs < 3) {
        later(0); // at once: we know exactly what we hold
      } else if (event.code === CLOSE.dropped) {
        later(FIRST_DELAY_MS); // too slow to follow: catch up from the last position
      } else {
        if (event.code === CLOSE.badFirstFrame) console.error("board: the server refused our first frame");
        backOff();
      }
    };

    function open() {
      clearTimeout(timer);
      if (stopped) return;
      const token = hooks.token();
      if (!token) {
        stopped = true;
        hooks.onSignedOut();
        return;
      }
      hooks.onState("connecting");
      let ws;
      try {
        ws = new WebSocket(url());
      } catch (failure) {
        console.warn(failure);
        backOff();
        return;
      }
      socket = ws;
      ws.addEventListener("open", () => {
        if (ws !== socket) return;
        const held = fresh ? null : hooks.holds();
        fresh = false;
        ws.send(JSON.stringify({ token, after: held && typeof held.position === "number" ? held.position : null }));
        // Resuming, the server may send nothing until the next event: the line is up and what
        // we hold is current. Starting afresh, "live" waits for the snapshot.
        if (held) hooks.onState("live");
      });
      ws.addEventListener("message", (event) => {
        if (ws === socket) onMessage(ws, event);
      });
      ws.addEventListener("close", (event) => onClose(ws, event));
      // An error is always followed by a close, which decides what to do.
    }

    const onOnline = () => {
      if (!socket && !stopped) {
        delay = FIRST_DELAY_MS;
        later(0);
      }
    };
    const onOffline = () => {
      if (socket) socket.close();
    };
    window.addEventListener("online", onOnline);
    window.addEventListener("offline", onOffline);

    open();

    return {
      stop: () => {
        stopped = true;
        clearTimeout(timer);
        window.removeEventListener("online", onOnline);
        window.removeEventListener("offline", onOffline);
        if (socket) {
          const ws = socket;
          socket = null;
          ws.close(1000, "bye");
        }
      },
    };
  };

  return { start, CLOSE };
})();
