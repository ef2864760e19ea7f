/*
 * A small client for the /ws/ gateway (DESIGN.md §6), reusable by every page.
 *
 *   const rt = new Realtime.Client({sinceSeq, onResync, onStatus});
 *   rt.on("video.progress", (data, event) => ...);
 *   rt.start();
 *   rt.command("ping").then(ackData => ..., error => ...);
 *
 * Auth rides on the session cookie; the client waits for `session.ready`. It
 * remembers the last `seq` it saw and sends `resume` after every (re)connect, so
 * kept events missed while away are replayed in order; when the server cannot
 * replay (`resync_required`) it calls `onResync`, which reloads state over REST.
 * Reconnects back off exponentially (0.5 s .. 15 s, with jitter).
 */
(function (global) {
  "use strict";

  const CLOSE_UNAUTHORIZED = 4401;

  class Client {
    constructor(options) {
      const opts = options || {};
      this.url = opts.url || (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/";
      // The seq the page's server-rendered state is current to; events after it replay.
      this.lastSeq = Number.isInteger(opts.sinceSeq) ? opts.sinceSeq : null;
      this.onResync = opts.onResync || function () {};
      this.onStatus = opts.onStatus || function () {};
      this.handlers = new Map();
      this.pending = new Map();
      this.refs = 0;
      this.attempts = 0;
      this.socket = null;
      this.ready = false;
      this.stopped = false;
    }

    on(type, handler) {
      if (!this.handlers.has(type)) this.handlers.set(type, []);
      this.handlers.get(type).push(handler);
      return this;
    }

    start() {
      this.stopped = false;
      this.connect();
      return this;
    }

    stop() {
      this.stopped = true;
      if (this.socket) this.socket.close(1000);
    }

    /* Sends a command; resolves with the ack's data, rejects with {code, message}. */
    command(type, data) {
      if (!this.ready) return Promise.reject({ code: "not_connected", message: "Not connected." });
      const ref = "c" + ++this.refs;
      return new Promise((resolve, reject) => {
        this.pending.set(ref, { resolve, reject });
        this.socket.send(JSON.stringify({ type: type, ref: ref, data: data || {} }));
      });
    }

    connect() {
      this.onStatus("connecting");
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.onmessage = (message) => this.receive(message.data);
      socket.onclose = (event) => this.closed(event);
    }

    receive(text) {
      let message;
      try {
        message = JSON.parse(text);
      } catch (error) {
        return;
      }
      if (message.type === "session.ready") {
        this.ready = true;
        this.attempts = 0;
        this.onStatus("online");
        this.resume(message.data.last_seq);
        return;
      }
      if ((message.type === "ack" || message.type === "error") && this.pending.has(message.ref)) {
        const waiter = this.pending.get(message.ref);
        this.pending.delete(message.ref);
        if (message.type === "ack") waiter.resolve(message.data || {});
        else waiter.reject({ code: message.code, message: message.message });
        return;
      }
      if (typeof message.seq === "number") {
        // The server replays without gaps or duplicates, skipping live events it already
        // sent, so a replayed seq may be lower than a live one seen just before.
        this.lastSeq = this.lastSeq === null ? message.seq : Math.max(this.lastSeq, message.seq);
      }
      for (const handler of this.handlers.get(message.type) || []) {
        try {
          handler(message.data, message);
        } catch (error) {
          console.error(error);
        }
      }
    }

    resume(serverLastSeq) {
      if (this.lastSeq === null) {
        // Nothing rendered from a known seq: start from now and load the state.
        this.lastSeq = serverLastSeq;
        this.onResync();
        return;
      }
      this.command("resume", { since_seq: this.lastSeq }).then(
        (ack) => {
          if (ack.resync_required) {
            this.lastSeq = serverLastSeq;
            this.onResync();
          }
        },
        () => this.onResync()
      );
    }

    closed(event) {
      this.ready = false;
      for (const waiter of this.pending.values()) {
        waiter.reject({ code: "disconnected", message: "The connection closed." });
      }
      this.pending.clear();
      if (this.stopped) return;
      if (event.code === CLOSE_UNAUTHORIZED) {
        this.onStatus("signed_out");
        return;
      }
      this.onStatus("offline");
      const delay = Math.min(15000, 500 * 2 ** this.attempts) * (0.75 + Math.random() * 0.5);
      this.attempts += 1;
      setTimeout(() => this.connect(), delay);
    }
  }

  global.Realtime = { Client: Client };
})(window);
