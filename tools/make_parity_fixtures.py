#!/usr/bin/python3
# Writes the PyTorch parity fixtures in tests/fixtures/parity/: tiny random DeiT, VideoMAE
# classifier and VideoMAE pretraining (plain-torch re-implementations of timm / MCG-NJU
# VideoMAE) with inputs, outputs, loss and every parameter's gradient, as hand-written
# safetensors files that tests/nn/test_parity.cpp reads. Run: /usr/bin/python3 <this file>
"""Generate the model-parity fixtures for tests/nn/test_parity.cpp.

Usage:  /usr/bin/python3 tools/make_parity_fixtures.py [--out tests/fixtures/parity]

Needs only Debian's python3-torch (no timm, einops or safetensors packages): the three
models are re-implemented here op for op from
  (a) timm VisionTransformer / DeiT: Conv2d PatchEmbed, cls token, learned pos_embed,
      pre-norm blocks (fused qkv Linear with bias, softmax(q k^T * head_dim^-0.5) v, proj,
      exact-erf GELU MLP), LayerNorm eps 1e-6, final norm, head on token 0;
  (b) VideoMAE modeling_finetune.VisionTransformer: Conv3d tubelet embedding, fixed
      sinusoid table (get_sinusoid_encoding_table), qkv without bias plus q_bias/v_bias
      (k bias zero), no cls token, mean pooling + fc_norm + head;
  (c) VideoMAE modeling_pretrain.PretrainVisionTransformer + engine_for_pretraining's
      target: encoder on visible tubelets + encoder norm, encoder_to_decoder (no bias),
      mask_token, decoder blocks + norm + head on the masked tokens (visible-then-masked
      concatenation), per-tubelet normalized pixel targets, MSE over masked tubelets.
Parameter names are exactly the ones shears' C++ modules produce (named_parameters()).

Precision: weights and inputs are drawn in float32 (so the stored f32 values are exactly
the ones used), the reference forward/backward runs in float64 and is stored cast to
float32. The references are therefore the "true" values for the stored weights, and the
C++ float32 run is measured against them: its error is its own rounding error only. For
scale, the script also runs the same models in torch float32 and prints (and records in
the metadata as torch_f32_*) how far torch's own float32 run is from the float64
reference: the test bars (forward 1e-4 abs, gradients 1e-3 relative) sit well above
that float32 noise while staying far below any real modelling mismatch.

Safetensors layout (written by hand): 8-byte little-endian header length, JSON header
(padded with spaces to a multiple of 8), raw little-endian data. Tensors: the model
weights under their names, "__input__" (f32), "__labels__" (i64) or "__mask__" (BOOL,
true = masked), "__logits__" / "__pred__" and "__loss__" (f32), and "__grad__.<name>"
for every parameter (f32). "__metadata__" holds "config" (nn::ModelConfig JSON), the
model kind, seed, pretraining decoder fields and the torch float32 noise measurements.
"""
import argparse
import json
import math
import os
import struct
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("make_parity_fixtures.py needs PyTorch: install Debian's package with\n"
          "    apt-get install python3-torch\n"
          "and run the script with /usr/bin/python3.", file=sys.stderr)
    sys.exit(1)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
LN_EPS = 1e-6


# ---------------------------------------------------------------- configs

def model_config(arch, image_size, patch, frames, tubelet, dim, depth, heads, mlp, classes):
    """nn::ModelConfig as JSON-ready dict (the keys ModelConfig::from_json expects)."""
    return {"arch": arch, "image_size": image_size, "in_chans": 3, "patch_size": patch,
            "frames": frames, "tubelet": tubelet, "dim": dim, "num_classes": classes,
            "qkv_bias": True, "ln_eps": LN_EPS, "drop_path": 0.0,
            "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
            "blocks": [{"heads": heads, "head_dim": dim // heads, "mlp_hidden": mlp}] * depth}


DEIT = model_config("vit", 32, 8, 1, 1, 64, 2, 2, 128, 10)
VIDEOMAE = model_config("videomae", 16, 8, 4, 2, 32, 2, 2, 64, 5)
PRETRAIN_ENCODER = dict(VIDEOMAE, num_classes=0)
PRETRAIN = {"decoder_dim": 16, "decoder_depth": 2, "decoder_heads": 2, "decoder_mlp_hidden": 32,
            "mask_ratio": 0.5}
BATCH = 2


# ---------------------------------------------------------------- random parameters

class Params:
    """Ordered name -> float32 tensor, drawn from one seeded generator."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.tensors = {}

    def normal(self, name, shape, std, mean=0.0):
        self.tensors[name] = (torch.randn(shape, generator=self.gen, dtype=torch.float32) * std + mean)

    def linear(self, name, fan_in, fan_out, bias=True, gain=0.8):
        # std gain/sqrt(fan_in) (0.1 at width 64, 0.14 at 32, 0.2 at 16): activations stay O(1)
        # and attention logits spread over ~1, so softmax and GELU are exercised non-trivially
        self.normal(name + ".weight", (fan_out, fan_in), gain / math.sqrt(fan_in))
        if bias:
            self.normal(name + ".bias", (fan_out,), 0.1)

    def layer_norm(self, name, dim):
        self.normal(name + ".weight", (dim,), 0.2, mean=1.0)
        self.normal(name + ".bias", (dim,), 0.1)

    def block(self, pre, dim, heads, mlp, qv_bias):
        w = dim  # heads * head_dim == dim in these configs
        self.layer_norm(pre + ".norm1", dim)
        if qv_bias:
            self.normal(pre + ".attn.q_bias", (w,), 0.1)
            self.normal(pre + ".attn.v_bias", (w,), 0.1)
        self.linear(pre + ".attn.qkv", dim, 3 * w, bias=not qv_bias)
        self.linear(pre + ".attn.proj", w, dim)
        self.layer_norm(pre + ".norm2", dim)
        self.linear(pre + ".mlp.fc1", dim, mlp)
        self.linear(pre + ".mlp.fc2", mlp, dim)

    def patch_embed(self, pre, cfg):
        c, p, t, d = cfg["in_chans"], cfg["patch_size"], cfg["tubelet"], cfg["dim"]
        shape = (d, c, t, p, p) if cfg["arch"] == "videomae" else (d, c, p, p)
        fan_in = c * t * p * p
        self.normal(pre + ".proj.weight", shape, 0.8 / math.sqrt(fan_in))
        self.normal(pre + ".proj.bias", (d,), 0.1)


def num_patches(cfg):
    g = cfg["image_size"] // cfg["patch_size"]
    return (cfg["frames"] // cfg["tubelet"]) * g * g


def encoder_params(P, pre, cfg):
    P.patch_embed(pre + "patch_embed", cfg)
    for i, b in enumerate(cfg["blocks"]):
        P.block(f"{pre}blocks.{i}", cfg["dim"], b["heads"], b["mlp_hidden"], cfg["arch"] == "videomae")


# ---------------------------------------------------------------- reference forward

def layer_norm(x, p, pre):
    return F.layer_norm(x, (x.shape[-1],), p[pre + ".weight"], p[pre + ".bias"], LN_EPS)


def attention(x, p, pre, heads):
    # timm Attention / VideoMAE Attention (q_bias, zero k bias, v_bias when present)
    B, N, _ = x.shape
    if pre + ".q_bias" in p:
        q_bias, v_bias = p[pre + ".q_bias"], p[pre + ".v_bias"]
        bias = torch.cat((q_bias, torch.zeros_like(v_bias), v_bias))
    else:
        bias = p[pre + ".qkv.bias"]
    qkv = F.linear(x, p[pre + ".qkv.weight"], bias).reshape(B, N, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    q = q * q.shape[-1] ** -0.5
    attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
    x = (attn @ v).transpose(1, 2).reshape(B, N, -1)
    return F.linear(x, p[pre + ".proj.weight"], p[pre + ".proj.bias"])


def block(x, p, pre, heads):
    x = x + attention(layer_norm(x, p, pre + ".norm1"), p, pre + ".attn", heads)
    h = F.gelu(F.linear(layer_norm(x, p, pre + ".norm2"), p[pre + ".mlp.fc1.weight"], p[pre + ".mlp.fc1.bias"]))
    return x + F.linear(h, p[pre + ".mlp.fc2.weight"], p[pre + ".mlp.fc2.bias"])


def patch_embed(x, p, pre, cfg):
    w, b = p[pre + ".proj.weight"], p[pre + ".proj.bias"]
    if cfg["arch"] == "videomae":
        y = F.conv3d(x, w, b, stride=(cfg["tubelet"], cfg["patch_size"], cfg["patch_size"]))
    else:
        y = F.conv2d(x, w, b, stride=cfg["patch_size"])
    return y.flatten(2).transpose(1, 2)  # (B, N, dim), tokens in (t, h, w) order


def sinusoid_table(n_position, d_hid, dtype):
    # VideoMAE modeling_finetune.get_sinusoid_encoding_table (computed in float64, as numpy does)
    table = [[pos / math.pow(10000, 2 * (j // 2) / d_hid) for j in range(d_hid)] for pos in range(n_position)]
    t = torch.tensor(table, dtype=torch.float64)
    t[:, 0::2] = torch.sin(t[:, 0::2])
    t[:, 1::2] = torch.cos(t[:, 1::2])
    return t.float().to(dtype).unsqueeze(0)  # FloatTensor in the original, then type_as(x)


def deit_forward(x, p, cfg):
    heads = cfg["blocks"][0]["heads"]
    t = patch_embed(x, p, "patch_embed", cfg)
    t = torch.cat((p["cls_token"].expand(t.shape[0], -1, -1), t), dim=1) + p["pos_embed"]
    for i in range(len(cfg["blocks"])):
        t = block(t, p, f"blocks.{i}", heads)
    t = layer_norm(t, p, "norm")
    return F.linear(t[:, 0], p["head.weight"], p["head.bias"])


def videomae_forward(x, p, cfg):
    heads = cfg["blocks"][0]["heads"]
    t = patch_embed(x, p, "patch_embed", cfg) + sinusoid_table(num_patches(cfg), cfg["dim"], x.dtype)
    for i in range(len(cfg["blocks"])):
        t = block(t, p, f"blocks.{i}", heads)
    t = layer_norm(t.mean(1), p, "fc_norm")  # norm = Identity with mean pooling
    return F.linear(t, p["head.weight"], p["head.bias"])


def pretrain_targets(x, cfg):
    # engine_for_pretraining: unnormalize, 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c',
    # per-tubelet per-channel normalization (unbiased std + 1e-6), 'b n p c -> b n (p c)'
    B, C, T, H, W = x.shape
    t, p = cfg["tubelet"], cfg["patch_size"]
    mean = torch.tensor(cfg["mean"], dtype=x.dtype)[None, :, None, None, None]
    std = torch.tensor(cfg["std"], dtype=x.dtype)[None, :, None, None, None]
    v = x * std + mean
    v = v.reshape(B, C, T // t, t, H // p, p, W // p, p).permute(0, 2, 4, 6, 3, 5, 7, 1)
    v = v.reshape(B, (T // t) * (H // p) * (W // p), t * p * p, C)
    v = (v - v.mean(dim=-2, keepdim=True)) / (v.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
    return v.reshape(B, v.shape[1], -1)


def pretrain_forward(x, mask, p, cfg, dec):
    B = x.shape[0]
    n = num_patches(cfg)
    # encoder (PretrainVisionTransformerEncoder.forward_features)
    t = patch_embed(x, p, "encoder.patch_embed", cfg) + sinusoid_table(n, cfg["dim"], x.dtype)
    t = t[~mask].reshape(B, -1, cfg["dim"])
    for i in range(len(cfg["blocks"])):
        t = block(t, p, f"encoder.blocks.{i}", cfg["blocks"][0]["heads"])
    t = layer_norm(t, p, "encoder.norm")
    # PretrainVisionTransformer.forward
    t = F.linear(t, p["encoder_to_decoder.weight"])
    D = dec["decoder_dim"]
    pos = sinusoid_table(n, D, x.dtype).expand(B, -1, -1)
    pos_vis, pos_mask = pos[~mask].reshape(B, -1, D), pos[mask].reshape(B, -1, D)
    t = torch.cat([t + pos_vis, p["mask_token"] + pos_mask], dim=1)
    for i in range(dec["decoder_depth"]):
        t = block(t, p, f"decoder.blocks.{i}", dec["decoder_heads"])
    nm = pos_mask.shape[1]
    pred = F.linear(layer_norm(t[:, -nm:], p, "decoder.norm"), p["decoder.head.weight"], p["decoder.head.bias"])
    labels = pretrain_targets(x, cfg)[mask].reshape(B, nm, -1)
    return pred, F.mse_loss(pred, labels)


# ---------------------------------------------------------------- run + record

def run(params, dtype, fn):
    """fn(p) -> (output, loss) on params cast to dtype; returns output, loss and gradients."""
    p = {k: v.to(dtype).requires_grad_(True) for k, v in params.items()}
    out, loss = fn(p)
    loss.backward()
    return out.detach(), loss.detach(), {k: v.grad.detach() for k, v in p.items()}


def noise(ref, f32):
    """Max abs forward difference and worst per-tensor relative gradient difference."""
    fwd = max((a.double() - b.double()).abs().max().item() for a, b in zip(ref[:2], f32[:2]))
    grad = max(((ref[2][k] - f32[2][k].double()).abs().max() / ref[2][k].abs().max().clamp_min(1e-8)).item()
               for k in ref[2])
    return fwd, grad


def make_fixture(name, params, inputs, fn, out_name, metadata, out_dir):
    ref = run(params, torch.float64, lambda p: fn(p, {k: v.double() if v.is_floating_point() else v
                                                       for k, v in inputs.items()}))
    f32 = run(params, torch.float32, lambda p: fn(p, inputs))
    fwd_noise, grad_noise = noise(ref, f32)
    tensors = dict(params)
    tensors.update(inputs)
    tensors[out_name] = ref[0].float()
    tensors["__loss__"] = ref[1].float().reshape(())
    for k, g in ref[2].items():
        tensors["__grad__." + k] = g.float()
    metadata = dict(metadata, torch_f32_forward_abs_err=f"{fwd_noise:.3e}",
                    torch_f32_grad_rel_err=f"{grad_noise:.3e}",
                    reference="float64 forward/backward of the stored float32 weights, stored as float32",
                    generator="tools/make_parity_fixtures.py")
    path = os.path.join(out_dir, name + ".safetensors")
    write_safetensors(path, tensors, metadata)
    print(f"{path}: {os.path.getsize(path)} bytes, {len(params)} parameters, loss {ref[1].item():.6f}, "
          f"torch f32 vs f64: forward {fwd_noise:.2e} abs, gradients {grad_noise:.2e} rel")
    return os.path.getsize(path)


DTYPES = {torch.float32: ("F32", "<f", 4), torch.int64: ("I64", "<q", 8), torch.bool: ("BOOL", "<?", 1)}


def write_safetensors(path, tensors, metadata):
    header, chunks, offset = {"__metadata__": {k: str(v) for k, v in metadata.items()}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        code, fmt, size = DTYPES[t.dtype]
        values = t.reshape(-1).tolist()
        data = struct.pack("<%d%s" % (len(values), fmt[1]), *values)
        assert len(data) == t.numel() * size
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "parity"))
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(args.seed)
    total = 0

    # (a) DeiT: dim 64, depth 2, 2 heads, mlp 128, 32x32x3, patch 8, 10 classes
    P = Params(args.seed + 1)
    P.normal("cls_token", (1, 1, DEIT["dim"]), 0.5)
    P.normal("pos_embed", (1, num_patches(DEIT) + 1, DEIT["dim"]), 0.2)
    encoder_params(P, "", DEIT)
    P.layer_norm("norm", DEIT["dim"])
    P.linear("head", DEIT["dim"], DEIT["num_classes"])
    inputs = {"__input__": torch.randn((BATCH, 3, 32, 32), generator=gen),
              "__labels__": torch.randint(0, DEIT["num_classes"], (BATCH,), generator=gen)}

    def deit(p, inp):
        logits = deit_forward(inp["__input__"], p, DEIT)
        return logits, F.cross_entropy(logits, inp["__labels__"])
    total += make_fixture("deit_tiny", P.tensors, inputs, deit, "__logits__",
                          {"model": "deit", "config": json.dumps(DEIT), "seed": args.seed}, args.out)

    # (b) VideoMAE classifier: 4 frames, tubelet 2, 16x16x3, patch 8 -> 8 tokens, dim 32, 5 classes
    P = Params(args.seed + 2)
    encoder_params(P, "", VIDEOMAE)
    P.layer_norm("fc_norm", VIDEOMAE["dim"])
    P.linear("head", VIDEOMAE["dim"], VIDEOMAE["num_classes"])
    inputs = {"__input__": torch.randn((BATCH, 3, 4, 16, 16), generator=gen),
              "__labels__": torch.randint(0, VIDEOMAE["num_classes"], (BATCH,), generator=gen)}

    def videomae(p, inp):
        logits = videomae_forward(inp["__input__"], p, VIDEOMAE)
        return logits, F.cross_entropy(logits, inp["__labels__"])
    total += make_fixture("videomae_cls", P.tensors, inputs, videomae, "__logits__",
                          {"model": "videomae", "config": json.dumps(VIDEOMAE), "seed": args.seed}, args.out)

    # (c) VideoMAE pretraining: same encoder, decoder 16 wide, 2 blocks, fixed tube mask 0.5
    P = Params(args.seed + 3)
    encoder_params(P, "encoder.", PRETRAIN_ENCODER)
    P.layer_norm("encoder.norm", PRETRAIN_ENCODER["dim"])
    P.linear("encoder_to_decoder", PRETRAIN_ENCODER["dim"], PRETRAIN["decoder_dim"], bias=False)
    P.normal("mask_token", (1, 1, PRETRAIN["decoder_dim"]), 0.5)
    for i in range(PRETRAIN["decoder_depth"]):
        P.block(f"decoder.blocks.{i}", PRETRAIN["decoder_dim"], PRETRAIN["decoder_heads"],
                PRETRAIN["decoder_mlp_hidden"], qv_bias=True)
    P.layer_norm("decoder.norm", PRETRAIN["decoder_dim"])
    pixels = 3 * PRETRAIN_ENCODER["tubelet"] * PRETRAIN_ENCODER["patch_size"] ** 2
    P.linear("decoder.head", PRETRAIN["decoder_dim"], pixels)
    # TubeMaskingGenerator: int(ratio * cells) grid cells per sample, tiled over time
    g = PRETRAIN_ENCODER["image_size"] // PRETRAIN_ENCODER["patch_size"]
    nt = PRETRAIN_ENCODER["frames"] // PRETRAIN_ENCODER["tubelet"]
    masked = int(PRETRAIN["mask_ratio"] * g * g)
    mask = torch.zeros((BATCH, g * g), dtype=torch.bool)
    for b in range(BATCH):
        mask[b, torch.randperm(g * g, generator=gen)[:masked]] = True
    mask = mask.repeat(1, nt)
    inputs = {"__input__": torch.randn((BATCH, 3, 4, 16, 16), generator=gen), "__mask__": mask}

    def pretrain(p, inp):
        return pretrain_forward(inp["__input__"], inp["__mask__"], p, PRETRAIN_ENCODER, PRETRAIN)
    meta = {"model": "videomae_pretrain", "config": json.dumps(PRETRAIN_ENCODER), "seed": args.seed,
            "norm_pixel_loss": "true"}
    meta.update({k: str(v) for k, v in PRETRAIN.items()})
    total += make_fixture("videomae_pretrain", P.tensors, inputs, pretrain, "__pred__", meta, args.out)
    print(f"total {total} bytes ({total / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
