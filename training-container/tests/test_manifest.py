"""Ground Truth output-manifest lines read into samples: boxes, class-map, skipped, clipped, rejected, malformed."""
import json
from pathlib import Path

import pytest

from logo_detector.manifest import ManifestError, read_manifest
from tinydata import manifest_line

CLASSES = ["logo", "wordmark"]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    for key in ("shop/a.jpg", "shop/b.jpg", "c.jpg", "d.jpg"):
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_bytes(b"\xff\xd8\xff")
    return folder


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "train.manifest"
    path.write_text("\n".join(lines) + "\n")
    return path


def box(class_id, left, top, width, height):
    return {"class_id": class_id, "left": left, "top": top, "width": width, "height": height}


def test_reads_several_boxes_per_image_in_corner_coordinates(tmp_path, images):
    boxes = [box(0, 10, 20, 100, 50), box(1, 200, 100, 30, 40)]
    manifest = write(tmp_path, manifest_line("shop/a.jpg", 400, 300, boxes, CLASSES))
    samples, counts = read_manifest(manifest, images, CLASSES)
    assert [s.image_path for s in samples] == [images / "shop" / "a.jpg"]
    assert (samples[0].width, samples[0].height) == (400, 300)
    assert [(b.class_id, b.xmin, b.ymin, b.xmax, b.ymax) for b in samples[0].boxes] == [
        (0, 10, 20, 110, 70), (1, 200, 100, 230, 140)]
    assert counts.to_dict() == {"images": 1, "boxes": 2, "skipped_lines": 0, "clipped": 0, "rejected": 0}


def test_skips_lines_without_annotations_and_counts_them(tmp_path, images):
    manifest = write(tmp_path, manifest_line("shop/a.jpg", 400, 300, [], CLASSES),
                     manifest_line("shop/b.jpg", 400, 300, [box(0, 1, 1, 50, 50)], CLASSES), "")
    samples, counts = read_manifest(manifest, images, CLASSES)
    assert [s.image_path.name for s in samples] == ["b.jpg"]
    assert counts.skipped_lines == 1 and counts.images == 1


def test_clips_boxes_past_the_edge_and_rejects_degenerate_ones(tmp_path, images):
    manifest = write(tmp_path, manifest_line("c.jpg", 200, 100, [
        box(0, 150, -10, 80, 60),   # past the right and top edges: clipped
        box(0, 50, 50, 0, 20),      # no width: rejected
        box(0, 300, 10, 20, 20),    # entirely outside: rejected
        box(1, 10, 10, 20, 20),
    ], CLASSES))
    samples, counts = read_manifest(manifest, images, CLASSES)
    assert [(b.xmin, b.ymin, b.xmax, b.ymax) for b in samples[0].boxes] == [(150, 0, 200, 50), (10, 10, 30, 30)]
    assert (counts.clipped, counts.rejected, counts.boxes) == (1, 2, 2)


def test_a_malformed_line_names_the_file_and_line_number(tmp_path, images):
    manifest = write(tmp_path, manifest_line("c.jpg", 200, 100, [box(0, 1, 1, 20, 20)], CLASSES), '{"source-ref": ')
    with pytest.raises(ManifestError, match=r"train\.manifest, line 2: not valid JSON"):
        read_manifest(manifest, images, CLASSES)


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["bounding-box"]["annotations"][0].update(class_id=5), "class_id 5"),
    (lambda r: r["bounding-box"]["annotations"][0].update(left="ten"), "left 'ten'"),
    (lambda r: r["bounding-box"].update(image_size=[]), "image_size"),
    (lambda r: r.update({"source-ref": "s3://bucket/raw/c.jpg"}), "is not under s3://bucket/images/"),
    (lambda r: r.update({"source-ref": "s3://dataset-bucket/images/missing.jpg"}), "not in the images channel"),
    (lambda r: r["bounding-box-metadata"].update({"class-map": {"0": "brand"}}), "class-map names class 0 'brand'"),
    (lambda r: r.pop("bounding-box-metadata"), "no label attribute"),
])
def test_invalid_lines_are_errors_that_say_what_is_wrong(tmp_path, images, mutate, message):
    record = json.loads(manifest_line("c.jpg", 200, 100, [box(0, 1, 1, 20, 20)], CLASSES))
    mutate(record)
    with pytest.raises(ManifestError, match=r"line 1: .*" + __import__("re").escape(message)):
        read_manifest(write(tmp_path, json.dumps(record)), images, CLASSES)


def test_any_label_attribute_name_is_found_or_can_be_named(tmp_path, images):
    record = json.loads(manifest_line("d.jpg", 200, 100, [box(0, 1, 1, 20, 20)], CLASSES))
    record["logos-2026"] = record.pop("bounding-box")
    record["logos-2026-metadata"] = record.pop("bounding-box-metadata")
    manifest = write(tmp_path, json.dumps(record))
    assert len(read_manifest(manifest, images, CLASSES)[0]) == 1
    assert len(read_manifest(manifest, images, CLASSES, label_attribute="logos-2026")[0]) == 1
    with pytest.raises(ManifestError, match="no label attribute 'bounding-box'"):
        read_manifest(manifest, images, CLASSES, label_attribute="bounding-box")


def test_images_s3_prefix_overrides_where_images_live(tmp_path, images):
    record = json.loads(manifest_line("c.jpg", 200, 100, [box(0, 1, 1, 20, 20)], CLASSES))
    record["source-ref"] = "s3://other-bucket/exports/2026/shop/a.jpg"
    samples, _ = read_manifest(write(tmp_path, json.dumps(record)), images, CLASSES,
                               images_s3_prefix="s3://other-bucket/exports/2026")
    assert samples[0].image_path == images / "shop" / "a.jpg"


@pytest.mark.parametrize("key", ["/outside/x.png.jpg", "shop//a.jpg", "./c.jpg", "shop/../c.jpg", "../c.jpg",
                                 "shop/a.jpg/", "a\nb.jpg", "a\u2028b.jpg"])
def test_a_source_ref_with_an_empty_dot_or_control_segment_is_refused_before_any_file_is_read(tmp_path, images, key):
    manifest = write(tmp_path, manifest_line(key, 200, 100, [box(0, 1, 1, 20, 20)], CLASSES))
    with pytest.raises(ManifestError, match=r"line 1: source-ref .* does not name an image under s3://"):
        read_manifest(manifest, images, CLASSES)


def test_a_source_ref_that_resolves_outside_the_channel_through_a_link_is_refused(tmp_path, images):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.jpg").write_bytes(b"\xff\xd8\xff")
    (images / "linked").symlink_to(outside)
    manifest = write(tmp_path, manifest_line("linked/x.jpg", 200, 100, [box(0, 1, 1, 20, 20)], CLASSES))
    with pytest.raises(ManifestError, match=r"line 1: source-ref .*linked/x\.jpg' resolves outside the images channel"):
        read_manifest(manifest, images, CLASSES)


def test_an_image_key_that_keeps_its_upload_extension_is_read_from_its_own_file(tmp_path, images):
    for key in ("front.jpg.jpg", "front.png.jpg"):
        (images / key).write_bytes(b"\xff\xd8\xff")
    manifest = write(tmp_path, manifest_line("front.jpg.jpg", 400, 200, [box(0, 1, 1, 20, 20)], CLASSES),
                     manifest_line("front.png.jpg", 200, 400, [box(0, 1, 1, 20, 20)], CLASSES))
    samples, _ = read_manifest(manifest, images, CLASSES)
    assert [(s.image_path.name, s.width, s.height) for s in samples] == [
        ("front.jpg.jpg", 400, 200), ("front.png.jpg", 200, 400)]
