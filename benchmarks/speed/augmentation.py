"""Cost of classic augmentation per training batch: MONAI's transforms applied image by image
(the reference) against the batched torch version of :mod:`medaug.classify.augment`, measured
alternately in the same run, beside one training step of the demo network.

Not a test: run it by hand and report the ratios.

    OMP_NUM_THREADS=1 python -m benchmarks.speed.augmentation --threads 1 --repeats 20

Every transform fires (probabilities 1) so both sides do the most work; the demo's probabilities
make both cheaper in the same proportion.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from medaug.classify.augment import AugmentationConfig, ClassicAugmentation
from medaug.classify.networks import Conv5FC3, classifier_config


def monai_reference(config: AugmentationConfig, shape: tuple[int, int, int], seed: int):
    """The MONAI composition with the same ranges, applied image by image."""
    from monai.transforms import Compose, RandAffine, RandBiasField, RandGaussianNoise, RandSmoothDeform

    c = config
    transform = Compose([
        RandAffine(prob=c.affine_prob, rotate_range=(c.rotate_range,) * 3, translate_range=(c.translate_range,) * 3,
                   scale_range=(c.scale_range,) * 3, padding_mode="zeros", mode="bilinear"),
        RandSmoothDeform(spatial_size=shape, rand_size=(c.elastic_control_points,) * 3, prob=c.elastic_prob,
                         def_range=c.elastic_magnitude, field_mode="trilinear", grid_mode="bilinear",
                         grid_padding_mode="zeros", align_corners=False),
        RandBiasField(prob=c.bias_field_prob, coeff_range=c.bias_field_coeff_range),
        RandGaussianNoise(prob=c.noise_prob, mean=0.0, std=c.noise_std),
    ])
    transform.set_random_state(seed=seed)
    return lambda images: torch.stack([torch.as_tensor(transform(image)) for image in images])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[42, 52, 44])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shape = tuple(args.shape)
    config = AugmentationConfig(affine_prob=1.0, elastic_prob=1.0, bias_field_prob=1.0, noise_prob=1.0)
    images = torch.rand(args.batch_size, 1, *shape)
    labels = torch.randint(0, 2, (args.batch_size,))
    model = Conv5FC3(classifier_config("small", shape))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(_):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()

    contenders = {"monai, image by image": monai_reference(config, shape, 0),
                  "batched torch": ClassicAugmentation(config, shape, seed=0).batch,
                  "one training step (no augmentation)": step}
    times = {name: [] for name in contenders}
    for repeat in range(args.repeats + 2):
        for name, run in contenders.items():
            start = time.perf_counter()
            run(images)
            if repeat >= 2:  # two warm-up rounds
                times[name].append(time.perf_counter() - start)
    reference = statistics.median(times["monai, image by image"])
    print(f"batch of {args.batch_size} x {shape}, {args.threads} thread(s), median of {args.repeats}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:38s} {median * 1e3:8.1f} ms   x{median / reference:.3f} of MONAI")


if __name__ == "__main__":
    main()
