"""The compact batch endpoint, `{prefix}api/ingest`: our own client's fast way in.

GET answers what the server takes (`{"formats": ["ntb1"], ...}`): a client asks once, and
falls back to MLflow's JSON `runs/log-batch` where this answers 404 (a stock MLflow server).
POST takes one frame (`wire/batch.py`, Content-Type `application/x-notebook-tracker-batch`),
decoded strictly (a bad frame is a JSON 400 naming what is wrong) and written through the
worker's group commit (`server/ingest.py`); the 200 comes once the points are committed.
Authentication and body limits are the handler base's, as for every endpoint.
"""

from __future__ import annotations

import tornado.web

from notebook_tracker.errors import BadRequest, InvalidParameter
from notebook_tracker.server.base import TrackerHandler
from notebook_tracker.server.ingest import group_writer
from notebook_tracker.wire import batch


class IngestHandler(TrackerHandler):
    auth_resource = "notebook_tracker"

    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(
            {
                "formats": [batch.FORMAT] if group_writer(self.context.store) else [],
                "content_type": batch.CONTENT_TYPE,
                "max_points": batch.MAX_POINTS,
                "max_bytes": self.context.max_body_bytes,
            }
        )

    @tornado.web.authenticated
    async def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != batch.CONTENT_TYPE:
            raise BadRequest(
                f"Content-Type must be {batch.CONTENT_TYPE} (got {content_type or 'none'!r}): "
                "send a compact batch frame, or MLflow's JSON to runs/log-batch."
            )
        writer = group_writer(self.context.store)
        if writer is None:
            raise BadRequest(
                "This server's store takes no compact frames (it is not a SQL store): send "
                "MLflow's JSON to api/2.0/mlflow/runs/log-batch instead."
            )
        try:
            frame = batch.decode(self.body_bytes())
        except InvalidParameter as exc:
            raise BadRequest(exc.message) from None
        await writer.write_async(columns=[(frame.run_id, c) for c in frame.columns])
        self.write_json({"points": frame.points})
