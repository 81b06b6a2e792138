import io

import numpy as np
import pytest
from PIL import Image

from app.imaging.blending import TileCanvas, blend_patch
from app.imaging.color import histogram_match, lab_stats, lab_transfer
from app.imaging.detection import Box
from app.imaging.io import ImageInputError, decode_image, encode_image, ensure_usable
from app.imaging.tiling import plan_tiles


def test_grid_follows_the_aspect_ratio_and_tile_count() -> None:
    grid = plan_tiles(2000, 3000, 16, overlap=32)
    assert grid.rows > grid.cols
    assert 12 <= len(grid.tiles) <= 20
    cell_w, cell_h = 2000 / grid.cols, 3000 / grid.rows
    assert 0.75 < cell_w / cell_h < 1.33
    wide = plan_tiles(3000, 1000, 12, overlap=0)
    assert wide.cols > wide.rows


def test_tiles_cover_the_image_and_overlap_by_the_feather() -> None:
    grid = plan_tiles(300, 200, 6, overlap=10)
    covered = np.zeros((200, 300), bool)
    for tile in grid.tiles:
        x0, y0, x1, y1 = tile.box
        covered[y0:y1, x0:x1] = True
        assert tile.box[0] == max(0, tile.core[0] - 10)
    assert covered.all()


def _two_tone_canvas(feather: int) -> np.ndarray:
    grid = plan_tiles(128, 64, 2, overlap=feather)
    canvas = TileCanvas(grid)
    for tile in grid.tiles:
        value = 0 if tile.col == 0 else 200
        canvas.add(tile, np.full((tile.height, tile.width, 3), value, np.uint8))
    return canvas.result()


def test_feathered_blend_spreads_a_tile_difference_over_the_overlap() -> None:
    # Two tiles that disagree by 200 levels: without feathering the border is a 200-level step,
    # with 16 px of feather it is a ramp over 32 px (at most ~200/32 per pixel).
    hard = np.abs(np.diff(_two_tone_canvas(0)[..., 0].astype(int), axis=1)).max()
    soft = np.abs(np.diff(_two_tone_canvas(16)[..., 0].astype(int), axis=1)).max()
    assert hard == 200
    assert soft <= 200 / 32 + 1


def test_identical_tiles_blend_back_to_the_same_image() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    grid = plan_tiles(120, 90, 9, overlap=8)
    canvas = TileCanvas(grid)
    for tile in grid.tiles:
        x0, y0, x1, y1 = tile.box
        canvas.add(tile, image[y0:y1, x0:x1])
    assert np.abs(canvas.result().astype(int) - image).max() <= 1


def test_blend_patch_fades_in_and_leaves_the_rest_alone() -> None:
    base = np.zeros((100, 100, 3), np.uint8)
    patch = np.full((40, 40, 3), 255, np.uint8)
    out = blend_patch(base, patch, (30, 30), feather=10)
    assert out[50, 50, 0] == 255  # centre fully replaced
    assert out[31, 50, 0] < 40  # edge barely
    assert out[:30].max() == 0 and out[70:].max() == 0


def test_lab_transfer_moves_statistics_to_the_reference() -> None:
    rng = np.random.default_rng(1)
    reference = np.clip(rng.normal((150, 90, 60), 20, (64, 64, 3)), 0, 255).astype(np.uint8)
    image = np.clip(rng.normal((60, 90, 170), 8, (64, 64, 3)), 0, 255).astype(np.uint8)
    out = lab_transfer(image, reference)
    ref_mean, ref_std = lab_stats(reference)
    before = np.abs(lab_stats(image)[0] - ref_mean).sum()
    after = np.abs(lab_stats(out)[0] - ref_mean).sum()
    assert after < 0.1 * before
    assert np.abs(lab_stats(out)[1] - ref_std).max() < 3


def test_histogram_match_reproduces_the_reference_distribution() -> None:
    rng = np.random.default_rng(2)
    reference = rng.integers(100, 200, (64, 64, 3), dtype=np.uint8)
    image = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
    out = histogram_match(image, reference)
    assert abs(float(out.mean()) - float(reference.mean())) < 2


def test_box_geometry() -> None:
    box = Box(10, 10, 30, 50)
    assert box.expand(0.5) == Box(5, 0, 35, 60)
    assert box.expand(1.0).clamp(40, 40) == Box(0, 0, 40, 40)
    top, bottom = box.split(4)
    assert top == Box(10, 10, 30, 34) and bottom == Box(10, 26, 30, 50)
    assert Box.parse({"x": 1, "y": 2, "width": 3, "height": 4}) == Box(1, 2, 4, 6)
    with pytest.raises(ValueError, match="box must"):
        Box.parse("nope")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_decode_rejects_empty_corrupt_huge_and_tiny_images() -> None:
    with pytest.raises(ImageInputError, match="empty"):
        decode_image(b"")
    with pytest.raises(ImageInputError, match="not a supported image format or is corrupt"):
        decode_image(b"definitely not an image")
    truncated = _png(Image.new("RGB", (64, 64), (1, 2, 3)))[:60]
    with pytest.raises(ImageInputError, match="corrupt"):
        decode_image(truncated)
    # A 1-bit image keeps the file tiny while its header claims 72 MP.
    with pytest.raises(ImageInputError, match="too large: 9000x8000"):
        decode_image(_png(Image.new("1", (9000, 8000))))
    with pytest.raises(ImageInputError, match="too small"):
        decode_image(_png(Image.new("RGB", (4, 64))))


def test_decode_turns_the_image_upright_as_its_exif_orientation_says() -> None:
    stored = Image.new("RGB", (40, 60), (10, 20, 30))
    stored.putpixel((0, 0), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the stored image rotated 90° clockwise
    buffer = io.BytesIO()
    stored.save(buffer, format="PNG", exif=exif)
    upright = decode_image(buffer.getvalue())
    assert upright.size == (60, 40)
    assert upright.getpixel((59, 0)) == (255, 0, 0)


def test_decode_keeps_the_greys_of_a_16_bit_greyscale_png() -> None:
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    stored = Image.fromarray(ramp)
    assert stored.mode == "I;16"
    decoded = np.asarray(decode_image(_png(stored)))
    assert decoded.shape == (64, 64, 3)
    assert np.array_equal(decoded[..., 0], (ramp >> 8).astype(np.uint8))
    assert 120 < decoded.mean() < 135  # a ramp from black to white, not nearly all white
    # Older Pillow opens the same file as mode I: same greys.
    assert np.array_equal(
        np.asarray(ensure_usable(Image.fromarray(ramp.astype(np.int32)))), decoded
    )


def test_decode_flattens_transparency_onto_white() -> None:
    data, mime = encode_image(Image.new("RGBA", (16, 16), (0, 0, 0, 0)))
    assert mime == "image/png"
    assert decode_image(data).getpixel((0, 0)) == (255, 255, 255)
