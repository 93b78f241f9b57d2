"""Live view in the browser: a sink that serves a page (frame, skeleton, count, state, energy,
the workout's main metric with its thresholds, finished reps) and pushes updates over a WebSocket.
When the input ends, the end-of-session view links the session report (``dataflow report``'s
page) at /report.html, drawn from what the view saw on the first request for it.

The graph never waits for a viewer: ``process`` only swaps in the newest values and wakes the
viewers. Each viewer has its own task on the server's event loop that sends the newest state it
has not sent yet, so a slow or stalled browser skips frames and holds up nobody. Frames are JPEG
encoded only while someone watches, once per frame however many watch, on the server's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from aiohttp import WSMsgType, web

from dataflow import EVENT, FRAME, KEYPOINTS, RECORD, In, Node, Param, UserError
from nodes.jsonutil import dumps
from nodes.pose.keypoints import Keypoints
from nodes.pose.schemas import SKELETON

from .report import Records, RecordsReducer, render
from .sinks import Tally, rep_row

STATIC = Path(__file__).with_name("web_static")
REP_ROWS = 50  # finished reps the page lists
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@dataclass
class Shared:
    """What the graph thread hands to the server thread; replaced whole, never mutated."""

    seq: int = -1
    state: dict[str, Any] = field(default_factory=dict)
    frame: np.ndarray | None = None


class LiveView(Node):
    """Serve a live page of the session at http://HOST:PORT/ and push updates to every viewer."""

    inputs = [
        In("frame", FRAME, optional=True),
        In("keypoints", KEYPOINTS, optional=True),
        In("state", RECORD, optional=True),
        In("energy", RECORD, optional=True),
        In("rep", EVENT, optional=True),
    ]
    params = [
        Param("host", str, "127.0.0.1", "address to listen on (0.0.0.0 serves the network)"),
        Param("port", int, 8765, "TCP port (0: any free port)", min=0, max=65535),
        Param("linger", float, math.inf, "seconds the page stays up after the input ends (inf: until Ctrl-C)", min=0),
        Param("max_fps", float, 5.0, "updates a second to each viewer at most (more: a browser elsewhere)", min=0.1),
        Param("jpeg_quality", int, 70, "JPEG quality of the frames sent", min=10, max=100),
        Param("max_width", int, 640, "frames wider than this are scaled down before encoding", min=64),
        Param("report", bool, True, "at the end, link the session report (/report.html)"),
    ]

    def setup(self) -> None:
        self.shared = Shared()
        self.reps: list[dict[str, Any]] = []
        self.rep_count = 0
        self.plot: dict[str, Any] | None = None
        self.started: float | None = None  # wall clock at the first frame: fps leaves set-up out
        self.first_t: float | None = None
        self.frames = 0
        self.sockets: set[web.WebSocketResponse] = set()
        self.jpeg: tuple[int, bytes] | None = None
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.error: str | None = None
        self.bound_address, self.bound_port = self.host, self.port
        # What the report needs, kept as the frames go by (bounded); drawn once, when asked for.
        self.tally = Tally()
        self.reducer = RecordsReducer()
        self.report_data: tuple[dict[str, Any], Records] | None = None  # the session's, at its end
        self.report_page: bytes | None = None
        self.report_lock: asyncio.Lock | None = None
        self.thread = threading.Thread(target=self._serve, name=f"{self.name}-http", daemon=True)
        self.thread.start()
        self.ready.wait(10)
        if self.error is not None:
            raise UserError(f"node '{self.name}': cannot serve on {self.host}:{self.port}: {self.error}")
        print(f"live view: {self.url}", flush=True)

    # -- the graph's thread -------------------------------------------------------
    def process(
        self, frame: np.ndarray | None, keypoints: Keypoints | None, state: dict | None, energy: dict | None, rep: Any
    ) -> None:
        self._tick()
        if self.report and state is not None:
            self._keep_for_report(state, energy, rep)
        if rep is not None:
            # The newest reps only: a camera that runs for days must not send thousands of rows a frame.
            # ``n`` numbers them over the session: rep numbers start again with each exercise.
            self.rep_count += 1
            self.reps = [*self.reps[-(REP_ROWS - 1) :], {**rep_row(rep, energy), "n": self.rep_count}]
        if self.viewers == 0:
            # Nobody watches: keep /api/state current, hand over no keypoints and no frame.
            self.shared = Shared(self.seq, self._state(None, state, energy), None)
            return
        self.shared = Shared(self.seq, self._state(keypoints, state, energy), frame)
        self._wake()

    def _keep_for_report(self, state: dict, energy: dict | None, rep: Any) -> None:
        t = float(self.timestamp)
        self.tally.add(t, state, energy, rep)
        # The row the records sink would write, without the keypoints (the report draws none), so
        # that this report is the one `dataflow report` draws from the run's files.
        row: dict[str, Any] = {"seq": self.seq, "timestamp": round(t, 4), **state}
        if energy is not None:
            row["energy"] = energy
        self.reducer.add(row)
        if rep is not None:
            self.reducer.add(rep_row(rep, energy))

    def _state(self, kp: Keypoints | None, state: dict | None, energy: dict | None) -> dict[str, Any]:
        state = state or {}
        exercise = state.get("exercise")
        if "plot" in state:
            # The reps node sends its workout's metric and thresholds whenever its exercise changes.
            self.plot = state["plot"]
        out: dict[str, Any] = {
            "seq": self.seq,
            "t": round(float(self.timestamp), 3),
            "exercise": exercise,
            "reps": state.get("reps", 0),
            "state": state.get("state"),
            "in_position": state.get("in_position"),
            "gate": state.get("gate"),
            "hold_seconds": state.get("hold_seconds"),
            "metrics": state.get("metrics", {}),
            "energy": None if energy is None else energy.get("score"),
            "fps": self._fps(),
            "plot": self.plot,
            "rep_list": self.reps,
            "ended": False,
        }
        if kp is not None:
            out["keypoints"] = keypoints_message(kp)
        return out

    def _tick(self) -> None:
        """Count a frame; the first one starts the clock (fps leaves set-up out)."""
        self.frames += 1
        if self.first_t is None:
            self.first_t, self.started = float(self.timestamp), time.perf_counter()

    def _fps(self) -> float | None:
        elapsed = time.perf_counter() - (self.started or time.perf_counter())
        return round(self.frames / elapsed, 1) if elapsed > 0 else None

    def _end_summary(self, last: dict[str, Any]) -> dict[str, Any]:
        """What the session's end shows, from the last state sent: what was done, then its reps."""
        return {
            "exercise": last.get("exercise"),
            "reps": last.get("reps", 0),
            "frames": self.frames,
            "seconds": round(last.get("t", 0.0) - (self.first_t or 0.0), 2),
            "rep_events": self.reps,
            "rep_events_shown": f"the last {REP_ROWS}" if len(self.reps) >= REP_ROWS else "all",
        }

    def ended(self) -> float:
        last = self.shared
        ended = {**last.state, "ended": True, "summary": self._end_summary(last.state)}
        if self.report and self.tally.frames:
            # Drawn on the first request, not here: drawing takes a second or two, longer than the
            # engine's grace after a stop (an app's session closing, Ctrl-C), and most ends are
            # never looked at. What it draws is the session's as of now.
            self.report_data = (self.tally.summary(), self.reducer.result())
            ended["report"] = "/report.html"
        self.shared = Shared(last.seq, ended, last.frame)
        self._wake()
        if self.linger > 0:
            print(f"live view: input ended; the page stays up at {self.url}", flush=True)
        return self.linger

    def close(self) -> None:
        if self.loop is not None and self.loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._goodbye(), self.loop)
            # A viewer that does not answer must not hold up the exit.
            with contextlib.suppress(Exception):
                done.result(timeout=3)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    async def _goodbye(self) -> None:
        """Close every viewer's socket ourselves (going away), so the server stops at once."""
        sockets = list(self.sockets)
        await asyncio.gather(*(asyncio.wait_for(ws.close(code=1001), 1.0) for ws in sockets), return_exceptions=True)

    def summary(self) -> dict[str, Any] | None:
        return {"live_view": self.url}

    @property
    def viewers(self) -> int:
        """Browsers connected now (read from the graph's thread: a set's size needs no lock)."""
        return len(self.sockets)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.bound_port}/"

    def _wake(self) -> None:
        if self.loop is not None and self.wake is not None and self.viewers:
            self.loop.call_soon_threadsafe(self.wake.set)

    # -- the server's thread ------------------------------------------------------
    def _serve(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.wake = asyncio.Event()
        self.report_lock = asyncio.Lock()
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/api/state", self._api_state)
        app.router.add_get("/report.html", self._report)
        app.router.add_get("/ws", self._socket)
        app.router.add_get("/static/{name}", self._static)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        try:
            self.loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            self.loop.run_until_complete(site.start())
            sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
            if sockets:
                self.bound_address = sockets[0].getsockname()[0]
                self.bound_port = sockets[0].getsockname()[1]
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self.ready.set()
            return
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(runner.cleanup())
            # Joins the executor's threads (JPEG encoding, a report being drawn): none left behind.
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Content-Type": "text/html"})

    async def _report(self, request: web.Request) -> web.Response:
        if self.report_data is None:
            raise web.HTTPNotFound(text="the session report is there once the input has ended")
        assert self.report_lock is not None
        async with self.report_lock:  # drawn once, however many ask at the same time
            if self.report_page is None:
                loop = asyncio.get_running_loop()
                try:
                    self.report_page = await loop.run_in_executor(None, self._draw_report)
                except Exception as exc:  # one line for the viewer and the log; the view stays up
                    line = f"no session report: {type(exc).__name__}: {exc}"
                    print(f"live view: {line}", file=sys.stderr, flush=True)
                    raise web.HTTPInternalServerError(text=line) from None
        return web.Response(body=self.report_page, content_type="text/html", charset="utf-8")

    def _draw_report(self) -> bytes:
        assert self.report_data is not None
        summary, records = self.report_data
        page, _ = render(summary, records, "Session report")
        return page.encode("utf-8")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = (STATIC / name).resolve()
        # Only the node's own files: no '..', no encoded separators, nothing outside the folder.
        if path.parent != STATIC.resolve() or path.suffix not in STATIC_TYPES or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": STATIC_TYPES[path.suffix]})

    async def _api_state(self, request: web.Request) -> web.Response:
        state = {k: v for k, v in self.shared.state.items() if k != "keypoints"}
        return web.Response(text=dumps(state), content_type="application/json")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        sender = asyncio.ensure_future(self._send_loop(ws))
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.sockets.discard(ws)
            sender.cancel()
        return ws

    async def _send_loop(self, ws: web.WebSocketResponse) -> None:
        assert self.wake is not None
        sent: tuple[int, bool] | None = None
        interval = 1.0 / self.max_fps
        while not ws.closed:
            shared = self.shared
            if (shared.seq, bool(shared.state.get("ended"))) == sent:
                self.wake.clear()
                await self.wake.wait()
                continue
            started = time.monotonic()
            jpeg = await self._jpeg(shared)
            await ws.send_str(dumps({**shared.state, "frame": jpeg is not None}))
            if jpeg is not None:
                await ws.send_bytes(jpeg)
            sent = (shared.seq, bool(shared.state.get("ended")))
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def _jpeg(self, shared: Shared) -> bytes | None:
        if shared.frame is None:
            return None
        if self.jpeg is not None and self.jpeg[0] == shared.seq:
            return self.jpeg[1]
        frame = shared.frame
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(None, _encode, frame, self.max_width, self.jpeg_quality)
        self.jpeg = (shared.seq, data)
        return data


def keypoints_message(kp: Keypoints) -> dict[str, Any]:
    """One person's keypoints as the page draws them: names, pixels, confidences, the bones."""
    return {
        "names": list(kp.names),
        "xy": np.round(kp.xy.astype(np.float64), 1).tolist(),
        "confidence": np.round(kp.confidence.astype(np.float64), 2).tolist(),
        "presence": round(float(kp.presence), 3),
        "size": list(kp.image_size),
        "skeleton": [[a, b] for a, b in SKELETON if a in kp.names and b in kp.names],
    }


def _encode(frame: np.ndarray, max_width: int, quality: int) -> bytes:
    if frame.shape[1] > max_width:
        scale = max_width / frame.shape[1]
        frame = cv2.resize(frame, (max_width, int(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
