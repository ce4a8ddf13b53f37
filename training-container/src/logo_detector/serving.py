"""The endpoint's HTTP app (SageMaker's serving contract): ``GET /ping`` and ``POST /invocations``.

gunicorn runs ``create_app()`` once in each worker, so each worker loads the model once. Request parsing,
preprocessing and the response live here, free of MXNet; the backend that ``model.json`` names only runs the network.
"""
import base64
import binascii
import json
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from .backends import Detection, Detector, get_backend, parse_variant
from .paths import ml_paths
from .preprocessing import ACCEPTED_FORMATS_TEXT, ImageError, preprocess

DEFAULT_MIN_SCORE = 0.5
DEFAULT_MAX_RESULTS = 20
MAX_RESULTS_LIMIT = 100
# SageMaker real-time endpoints accept at most 6 MB per request; anything bigger is refused before reading it.
MAX_BODY_BYTES = 6 * 1024 * 1024
# A data URL's prefix (data:image/png;base64,), as browsers' FileReader.readAsDataURL writes it.
DATA_URL_PREFIX = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?;base64,", re.IGNORECASE)
CONTENT_TYPES_TEXT = ("the image's bytes with an image/* Content-Type (or application/octet-stream), "
                      'or application/json with {"image": "<base64>"}')
ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
# Set by the detect workflow's Batch Transform job (its Environment): SageMaker fails the whole job when one record is
# answered with an error status, so in batch mode every error is answered 200 with the error object instead, and the
# job's results step lists it beside the image. BATCH_MIN_SCORE replaces the default minScore there.
BATCH_MODE_VARIABLE = "BATCH_MODE"
BATCH_MIN_SCORE_VARIABLE = "BATCH_MIN_SCORE"

logger = logging.getLogger("logo_detector.serving")


class RequestError(Exception):
    """A request the client can fix: answered with ``status`` and ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def parse_custom_attributes(header: Optional[str]) -> Dict[str, Any]:
    """``minScore=<0..1>;maxResults=<1..100>`` from SageMaker's custom-attributes header; other keys are ignored."""
    options: Dict[str, Any] = {}
    for part in (header or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise RequestError(400, "invalid_attributes", f"Custom attribute {part.strip()!r} is not key=value "
                               "(expected e.g. minScore=0.5;maxResults=20).")
        if key.strip() in ("minScore", "maxResults"):
            options[key.strip()] = value.strip()
    return options


def detection_options(options: Mapping[str, Any]) -> Tuple[float, int]:
    """Validated (minScore, maxResults), with their defaults."""
    min_score, max_results = DEFAULT_MIN_SCORE, DEFAULT_MAX_RESULTS
    if options.get("minScore") is not None:
        try:
            min_score = float(options["minScore"]) if not isinstance(options["minScore"], bool) else -1.0
        except (TypeError, ValueError):
            min_score = -1.0
        if not 0.0 <= min_score <= 1.0:
            raise RequestError(400, "invalid_min_score",
                               f"minScore {options['minScore']!r} must be a number from 0 to 1.")
    if options.get("maxResults") is not None:
        value = options["maxResults"]
        try:
            max_results = int(value) if not isinstance(value, (bool, float)) else -1
        except (TypeError, ValueError):
            max_results = -1
        if not 1 <= max_results <= MAX_RESULTS_LIMIT:
            raise RequestError(400, "invalid_max_results",
                               f"maxResults {value!r} must be an integer from 1 to {MAX_RESULTS_LIMIT}.")
    return min_score, max_results


def is_image_content_type(content_type: str) -> bool:
    """Any ``image/*`` type or ``application/octet-stream``: the bytes then decide the format, not the label."""
    return re.fullmatch(r"image/[a-z0-9.+-]+", content_type) is not None or content_type == "application/octet-stream"


def read_image(content_type: str, body: bytes) -> Tuple[bytes, Dict[str, Any]]:
    """The image bytes of a request and any options its JSON body carries; the format is checked when decoding."""
    if content_type == "application/json":
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            # No parser text in the answer: it can quote the body back. RecursionError: nesting thousands deep.
            raise RequestError(400, "invalid_json", 'The body is not valid JSON; send {"image": "<base64>"}.') from None
        if not isinstance(document, dict) or not isinstance(document.get("image"), str):
            raise RequestError(400, "invalid_json", 'The JSON body must be an object with "image": "<base64>".')
        encoded = re.sub(r"[\r\n\t ]", "", DATA_URL_PREFIX.sub("", document["image"], count=1))
        try:
            image = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(400, "invalid_base64", 'The JSON field "image" is not valid base64.') from None
        options = {k: document[k] for k in ("minScore", "maxResults") if k in document}
    elif is_image_content_type(content_type):
        image, options = body, {}
    else:
        raise RequestError(415, "unsupported_media_type",
                           f"Content type {content_type or '(none)'!r} is not supported; send {CONTENT_TYPES_TEXT}. "
                           f"Accepted formats are {ACCEPTED_FORMATS_TEXT}.")
    if not image:
        raise RequestError(400, "empty_image", "The request carries no image bytes.")
    return image, options


def model_version(model_dir: Path, environ: Mapping[str, str] = os.environ) -> str:
    """``MODEL_VERSION`` (the training job's name, set by the pipeline), else metrics.json's version, else unknown."""
    if environ.get("MODEL_VERSION"):
        return environ["MODEL_VERSION"]
    try:
        version = json.loads((model_dir / "metrics.json").read_text()).get("version")
    except (OSError, ValueError, AttributeError):
        version = None
    return version if isinstance(version, str) and version else "unknown"


def to_response_detections(found: Sequence[Detection], classes: Sequence[str], scale_x: float, scale_y: float,
                           width: int, height: int, min_score: float, max_results: int) -> List[Dict[str, Any]]:
    """Detections mapped from the model's square view back to the received image's pixels, clipped, best first."""
    detections = []
    for class_id, score, xmin, ymin, xmax, ymax in sorted(found, key=lambda d: -d[1]):
        if score < min_score or not 0 <= class_id < len(classes):
            continue
        left, top = min(max(xmin * scale_x, 0.0), width), min(max(ymin * scale_y, 0.0), height)
        right, bottom = min(max(xmax * scale_x, 0.0), width), min(max(ymax * scale_y, 0.0), height)
        if right - left <= 0 or bottom - top <= 0:
            continue
        detections.append({
            "label": classes[class_id],
            "score": round(score, 4),
            "box": {"left": round(left, 1), "top": round(top, 1),
                    "width": round(right - left, 1), "height": round(bottom - top, 1)},
        })
        if len(detections) == max_results:
            break
    return detections


def batch_settings(environ: Mapping[str, str] = os.environ) -> Optional[Dict[str, Any]]:
    """The Batch Transform settings from the environment, or None outside batch mode (``BATCH_MODE`` unset).

    In batch mode the default options are ``minScore`` = ``BATCH_MIN_SCORE`` (else the usual default) and
    ``maxResults`` = the limit (a folder's results are read by people and programs, not a phone screen); a
    ``BATCH_MIN_SCORE`` that is not a number from 0 to 1 raises ``ValueError`` naming it, so the job fails at start.
    """
    if environ.get(BATCH_MODE_VARIABLE, "").lower() not in ("1", "true"):
        return None
    options: Dict[str, Any] = {"maxResults": MAX_RESULTS_LIMIT}
    if environ.get(BATCH_MIN_SCORE_VARIABLE):
        try:
            options["minScore"] = detection_options({"minScore": environ[BATCH_MIN_SCORE_VARIABLE]})[0]
        except RequestError as err:
            raise ValueError(f"{BATCH_MIN_SCORE_VARIABLE}: {err.message}") from None
    return options


def _error(status: int, code: str, message: str, batch: bool = False) -> Response:
    if batch:
        # One error status fails a whole Batch Transform job: the image's error is the answer instead.
        body = {"error": {"code": code, "message": message, "status": status}}
        return Response(json.dumps(body), status=200, mimetype="application/json")
    return Response(json.dumps({"error": {"code": code, "message": message}}), status=status,
                    mimetype="application/json")


def create_app(model_dir: Optional[Path] = None, detector: Optional[Detector] = None) -> Flask:
    """The Flask app with the model at ``model_dir`` (default ``<ML_ROOT>/model``) loaded.

    The detector comes from the backend model.json names (``backends.BACKENDS``), in the variant it names (fp32 when
    it names none), unless one is given; an unknown backend raises ``backends.UnknownBackendError`` listing the known
    ones, an unknown variant ``backends.UnknownVariantError``.
    """
    model_dir = Path(model_dir or ml_paths().model)
    classes = json.loads((model_dir / "classes.json").read_text())
    model = json.loads((model_dir / "model.json").read_text())
    data_shape = int(model["data_shape"])
    variant = parse_variant(model.get("variant"))
    if detector is None:
        detector = get_backend(model.get("backend")).load_detector(model_dir, variant)
    version = model_version(model_dir)
    batch = batch_settings()
    gunicorn_logger = logging.getLogger("gunicorn.error")
    if gunicorn_logger.handlers:
        logger.handlers, logger.propagate = gunicorn_logger.handlers, False
        logger.setLevel(gunicorn_logger.level)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    logger.info("model %s (%s, %s variant) loaded from %s: classes %s, data_shape %d", version, model.get("backend"),
                variant, model_dir, classes, data_shape)

    @app.get("/ping")
    def ping() -> Response:
        return Response(json.dumps({"status": "ok", "model": {"version": version}}), mimetype="application/json")

    @app.post("/invocations")
    def invocations() -> Response:
        options = parse_custom_attributes(request.headers.get(ATTRIBUTES_HEADER))
        image, body_options = read_image(request.mimetype, request.get_data())
        min_score, max_results = detection_options({**(batch or {}), **options, **body_options})
        try:
            tensor, width, height = preprocess(image, data_shape)
        except ImageError as err:
            if err.detail:
                reference = uuid.uuid4().hex[:12]
                logger.warning("request %s: %s (%s)", reference, err.message, err.detail)
                raise RequestError(err.status, err.code, f"{err.message} (reference {reference})") from None
            raise RequestError(err.status, err.code, err.message) from None
        found = detector.detect(tensor)
        detections = to_response_detections(found, classes, width / data_shape, height / data_shape, width, height,
                                            min_score, max_results)
        body = {"model": {"version": version}, "image": {"width": width, "height": height}, "detections": detections}
        return Response(json.dumps(body), mimetype="application/json")

    @app.errorhandler(RequestError)
    def request_error(err: RequestError) -> Response:
        return _error(err.status, err.code, err.message, batch is not None)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        code = (err.name or "error").lower().replace(" ", "_")
        # Only POST /invocations answers records; a wrong path or method stays an error status in batch mode too.
        record = request.method == "POST" and request.path == "/invocations"
        return _error(err.code or 500, code, err.description or err.name, batch is not None and record)

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> Response:
        reference = uuid.uuid4().hex[:12]
        logger.exception("request %s failed", reference)
        return _error(500, "internal_error", f"The model could not process the request (reference {reference}).",
                      batch is not None)

    return app
