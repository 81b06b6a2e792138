import numpy as np
import pytest
from PIL import Image

from app.imaging.metrics import ssim, ssim_common_size


def _noise(seed: int, size: tuple[int, int] = (64, 48)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def test_ssim_of_identical_images_is_one() -> None:
    image = _noise(1)
    assert ssim(image, image) == pytest.approx(1.0)


def test_ssim_drops_for_unrelated_images() -> None:
    assert ssim(_noise(1), _noise(2)) < 0.1


def test_ssim_refuses_different_sizes() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        ssim(_noise(1, (10, 10)), _noise(1, (12, 10)))


def test_ssim_common_size_compares_a_resized_copy() -> None:
    gradient = Image.linear_gradient("L").convert("RGB")
    assert ssim_common_size(gradient, gradient.resize((512, 512))) > 0.95
