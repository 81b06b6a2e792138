"""Face fixer, garment fixer, image adjuster and background fixer on synthetic images."""

import numpy as np
import pytest
from PIL import Image

from app.imaging.adjust import SKIN_HUE_RANGE, adjust_image
from app.imaging.background import parse_background, parse_background_text, replace_background
from app.imaging.consistency import Thresholds
from app.imaging.detection import Box, GarmentFamily, detect_faces, detect_person, parse_family
from app.imaging.face_fixer import FaceFixerSettings, fix_faces
from app.imaging.garment_fixer import GarmentFixerSettings, NoGarmentRegion, fix_garment
from app.imaging.io import to_array
from tests.imaging.synthetic import BACKDROP, TOP, TROUSERS, portrait, textured_gradient


# Haar cascades on a drawing are size-sensitive: the face tests use sizes where the drawn face
# is verified to be found (240, 288, 480, 576 and 1536 px tall); other sizes inject boxes.
def test_the_drawn_face_is_detected_where_it_was_drawn() -> None:
    drawn = portrait(192, 288)
    faces = detect_faces(to_array(drawn.image))
    assert len(faces) == 1
    assert faces[0].iou(drawn.face) > 0.5


def test_face_fixer_enhances_only_the_expanded_face_box() -> None:
    drawn = portrait(192, 288)
    result = fix_faces(drawn.image, FaceFixerSettings(expand_percent=0.5, feather_px=8))
    (face,) = result.report["faces"]
    assert face["accepted"] and not result.report["unchanged"]
    box = Box(*face["box"])
    assert box.iou(Box(*face["detected"]).expand(0.5).clamp(192, 288)) == 1.0
    before, after = to_array(drawn.image), to_array(result.image)
    changed = np.any(before != after, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.any()
    assert xs.min() >= box.x0 and xs.max() < box.x1 and ys.min() >= box.y0 and ys.max() < box.y1


def test_face_fixer_leaves_an_image_without_a_face_unchanged_and_says_why() -> None:
    image = textured_gradient(128, 96, text=False)
    result = fix_faces(image, FaceFixerSettings())
    assert result.report["unchanged"] and result.report["reason"] == "no face detected"
    assert np.array_equal(to_array(result.image), to_array(image))


def test_face_fixer_thresholds_and_retries() -> None:
    drawn = portrait(192, 288)
    strict = fix_faces(
        drawn.image, FaceFixerSettings(max_retries=1, thresholds=Thresholds(ssim=0.99999))
    )
    assert strict.report["faces"][0]["attempts"] == 2
    assert strict.report["unchanged"]
    assert strict.report["reason"] == "no face passed the consistency check"
    assert np.array_equal(to_array(strict.image), to_array(drawn.image))


def test_person_detection_falls_back_to_the_foreground_on_a_studio_backdrop() -> None:
    drawn = portrait(256, 384)
    found = detect_person(to_array(drawn.image))
    assert found is not None
    box, how = found
    assert how.value in {"hog", "foreground"}
    assert box.iou(drawn.figure) > 0.8


@pytest.mark.parametrize(("family", "attr"), [("upper", "top"), ("trousers", "trousers")])
def test_garment_box_lands_on_the_drawn_garment(family: str, attr: str) -> None:
    drawn = portrait(256, 384)
    result = fix_garment(
        drawn.image, GarmentFixerSettings(bbox_expand_percent=0.0), family=parse_family(family)
    )
    report = result.report
    assert report["located_by"]["source"] == "person_detection"
    assert Box(*report["garment_box"]).iou(getattr(drawn, attr)) > 0.5
    assert report["tiles_enhanced"] >= 1


def test_a_given_garment_box_is_used_expanded_and_split_when_elongated() -> None:
    drawn = portrait(256, 384)
    tall = Box(100, 100, 160, 300)  # 200 / 60 = 3.3
    split = fix_garment(
        drawn.image, GarmentFixerSettings(bbox_expand_percent=0.1, split_threshold=1.8), box=tall
    )
    assert split.report["located_by"] == {"source": "request"}
    assert split.report["region"] == tall.expand(0.1).as_list()
    assert split.report["split"] and len(split.report["tiles"]) == 2
    whole = fix_garment(drawn.image, GarmentFixerSettings(split_threshold=4.0), box=tall)
    assert not whole.report["split"] and len(whole.report["tiles"]) == 1


def test_garment_colour_fidelity_is_measured_against_the_product() -> None:
    drawn = portrait(256, 384)
    red = Image.new("RGB", (64, 64), BACKDROP)
    red.paste(Image.new("RGB", (40, 40), TOP), (12, 12))
    navy = Image.new("RGB", (64, 64), BACKDROP)
    navy.paste(Image.new("RGB", (40, 40), TROUSERS), (12, 12))
    settings = GarmentFixerSettings()
    matching = fix_garment(drawn.image, settings, box=drawn.top, product=red)
    other = fix_garment(drawn.image, settings, box=drawn.top, product=navy)
    fidelity = matching.report["colour_fidelity"]
    assert fidelity["metric"] == "delta_e_cie76"
    assert fidelity["after"] < 15 < other.report["colour_fidelity"]["after"]
    # The enhancement itself does not move the garment's colour.
    assert abs(fidelity["after"] - fidelity["before"]) < 2


def test_garment_fixer_without_box_or_person_is_a_clear_error() -> None:
    blank = Image.new("RGB", (64, 64), (200, 200, 200))
    with pytest.raises(NoGarmentRegion, match="no garment box given and no person found"):
        fix_garment(blank, GarmentFixerSettings(), family=GarmentFamily.UPPER)
    with pytest.raises(ValueError, match="unknown product family 'hats'"):
        parse_family("hats")


def _grey_level_spread(pixels: np.ndarray) -> float:
    """How far the (neutral) backdrop is from grey: spread of its channel means."""
    corner = pixels[:20, :20].reshape(-1, 3).astype(float).mean(axis=0)
    return float(corner.max() - corner.min())


def test_image_adjuster_removes_a_cast_and_underexposure_within_bounds() -> None:
    drawn = portrait(192, 288)
    original = to_array(drawn.image).astype(float)
    dull = Image.fromarray(np.clip(original * [1.1, 1.0, 0.85] * 0.75, 0, 255).astype(np.uint8))
    result = adjust_image(dull)
    out = to_array(result.image)
    assert _grey_level_spread(out) < 0.3 * _grey_level_spread(to_array(dull))
    assert out.mean() > to_array(dull).mean() + 20
    report = result.report
    assert all(1 / 1.2 - 1e-6 <= g <= 1.2 + 1e-6 for g in report["white_balance_gains"])
    low, high = SKIN_HUE_RANGE
    assert low <= report["skin_hue_degrees"]["after"] <= high


def test_image_adjuster_barely_touches_a_well_exposed_neutral_image() -> None:
    drawn = portrait(192, 288)
    result = adjust_image(drawn.image)
    diff = np.abs(to_array(result.image).astype(int) - to_array(drawn.image)).mean()
    assert diff < 12


def test_background_fixer_replaces_the_backdrop_and_keeps_the_subject() -> None:
    drawn = portrait(192, 288)
    pixels = to_array(drawn.image).astype(np.int16)
    # A busy backdrop: a gradient instead of plain grey.
    backdrop = to_array(textured_gradient(192, 288, text=False)).astype(np.int16)
    is_backdrop = np.all(np.abs(pixels - np.array(BACKDROP)) < 12, axis=2)
    busy = np.where(is_backdrop[..., None], backdrop, pixels).astype(np.uint8)
    busy_image = Image.fromarray(busy)
    result = replace_background(busy_image, color="#00FF00", subject=drawn.figure)
    out = to_array(result.image).astype(int)
    # Corners are now the requested colour, the middle of the top and trousers are untouched.
    for y, x in ((3, 3), (3, 188), (284, 3), (150, 10)):
        assert np.abs(out[y, x] - [0, 255, 0]).max() <= 3
    for box in (drawn.top, drawn.trousers):
        cy, cx = (box.y0 + box.y1) // 2, (box.x0 + box.x1) // 2 - 20
        assert np.abs(out[cy, cx] - busy[cy, cx]).max() <= 3
    assert result.report["subject_from"] == "request"
    # The matte is soft: some edge pixels are mixtures of subject and backdrop.
    green = np.all(np.abs(out - [0, 255, 0]) <= 3, axis=2)
    kept = np.all(np.abs(out - busy) <= 3, axis=2)
    assert (~green & ~kept).any()


def test_background_fixer_finds_the_subject_itself() -> None:
    drawn = portrait(192, 288)
    result = replace_background(drawn.image, preset="white")
    assert result.report["subject_from"] in {"hog", "foreground"}
    out = to_array(result.image)
    assert out[3, 3].tolist() == [255, 255, 255]
    assert 0.15 < result.report["foreground_fraction"] < 0.6


def test_background_fixer_gives_the_same_pixels_every_time_in_one_thread() -> None:
    # Worker threads run job after job: OpenCV's per-thread RNG must not leak between them.
    image = portrait(128, 192).image
    first, *others = (to_array(replace_background(image, color="#00FF00").image) for _ in range(4))
    for other in others:
        assert np.array_equal(first, other)


def test_background_colour_parsing() -> None:
    assert parse_background("#102030") == (16, 32, 48)
    assert parse_background([1, 2, 3]) == (1, 2, 3)
    assert parse_background(None, "light grey") == (235, 235, 235)
    assert parse_background() == (255, 255, 255)
    with pytest.raises(ValueError, match="not '#RRGGBB'"):
        parse_background("red")
    with pytest.raises(ValueError, match="unknown background preset 'neon'"):
        parse_background(None, "neon")
    # A generation's free text: a colour code or a preset name, nothing else.
    assert parse_background_text("#102030") == (16, 32, 48)
    assert parse_background_text("Off-White") == (245, 244, 240)
    with pytest.raises(ValueError, match="'sunny beach' is not a colour"):
        parse_background_text("sunny beach")
