"""Text conditioning's captions (vocabulary, templates, folder files, the two caption sources
behind one interface) and its text encoder."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from gancli.conditioning.base import Request
from gancli.conditioning.captions import SOURCES, captions_from_state, new_source
from gancli.conditioning.captions.files import read_captions
from gancli.conditioning.captions.per_class import CaptionBank
from gancli.conditioning.captions.per_image import FolderCaptions
from gancli.conditioning.captions.source import CaptionSource
from gancli.conditioning.captions.templates import CAPTIONED_DATASETS, TEMPLATES
from gancli.conditioning.captions.vocabulary import Vocabulary, tokenize
from gancli.data import DataInfo, TensorData
from gancli.errors import GancliError
from gancli.models.text_encoder import TextEncoder


@cache
def bank(dataset: str) -> CaptionBank:
    return CaptionBank(dataset, TEMPLATES[dataset].num_classes)


def words(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text))


def roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# ---- tokenize and Vocabulary --------------------------------------------------------------


def test_tokenize() -> None:
    assert tokenize("T-shirt/top") == ["t", "shirt", "top"]
    assert tokenize("a handwritten 7") == ["a", "handwritten", "7"]
    assert tokenize("  Red SEVEN, green-1!  ") == ["red", "seven", "green", "1"]
    assert tokenize("snake_case") == ["snake", "case"]
    assert tokenize(" -- ") == []


def test_vocabulary_ids_sorted_stable_and_round_trip() -> None:
    vocab = Vocabulary(["dog", "cat", "a", "dog"])
    assert vocab.to_list() == ["a", "cat", "dog"] and len(vocab) == 4
    assert Vocabulary(["cat", "a", "dog"]).to_list() == vocab.to_list()
    assert vocab.encode("a dog", 5).tolist() == [1, 3, 0, 0, 0]
    assert vocab.encode("A Cat", 2).dtype == torch.long
    assert vocab.encode("a cat dog cat", 2).tolist() == [1, 2]  # truncated
    again = Vocabulary.from_list(vocab.to_list())
    assert again.to_list() == vocab.to_list()
    assert again.encode("dog cat", 3).tolist() == [3, 2, 0]
    assert vocab.decode(torch.tensor([3, 2, 0])) == "dog cat"


def test_unknown_word_names_it_the_prompt_and_a_close_word() -> None:
    vocab = bank("mnist").vocab
    with pytest.raises(GancliError) as err:
        vocab.encode("a handwritten sevn", 8)
    msg = str(err.value)
    assert "\n" not in msg
    assert "'sevn'" in msg and "'a handwritten sevn'" in msg and "did you mean 'seven'" in msg
    assert f"knows {len(vocab) - 1} words" in msg and "training captions" in msg
    with pytest.raises(GancliError, match="'zebra'.*'a zebra'"):
        vocab.encode("a zebra", 8)


def test_empty_prompt_is_an_error() -> None:
    for prompt in ("", "  ", "?!-"):
        with pytest.raises(GancliError, match="no words"):
            bank("mnist").encode(prompt)


# ---- built-in captions --------------------------------------------------------------------


@pytest.mark.parametrize("dataset", CAPTIONED_DATASETS)
def test_builtin_captions_are_varied_held_out_and_unambiguous(dataset: str) -> None:
    b = bank(dataset)
    train_words = {w for c in range(b.num_classes) for t in b.captions(c) for w in tokenize(t)}
    assert set(b.vocab.to_list()) == train_words
    owner: dict[tuple[str, ...], int] = {}
    for c in range(b.num_classes):
        phrasings = {words(t) for t in b.captions(c)}
        assert len(phrasings) >= 3
        for p in phrasings:
            assert owner.setdefault(p, c) == c, f"{p} names classes {owner[p]} and {c}"
    for c in range(b.num_classes):
        held = b.held_out_captions(c)
        assert held
        for t in held:
            assert words(t) not in owner, f"held-out {t!r} is a training caption"
            assert set(tokenize(t)) <= train_words
            assert len(tokenize(t)) <= b.length
    # Every caption (training and held-out) fits the table without truncation.
    assert b.length == max(
        len(tokenize(t))
        for c in range(b.num_classes)
        for t in b.captions(c) + b.held_out_captions(c)
    )


@pytest.mark.parametrize("dataset", CAPTIONED_DATASETS)
def test_sample_draws_captions_of_each_label_reproducibly(dataset: str) -> None:
    b = bank(dataset)
    n = b.num_classes
    labels = torch.arange(n).repeat(4)
    g = torch.Generator().manual_seed(0)
    tokens = b.sample(labels, g)
    assert tokens.shape == (len(labels), b.length) and tokens.dtype == torch.long
    for label, row in zip(labels.tolist(), tokens, strict=True):
        assert words(b.decode(row)) in {words(t) for t in b.captions(label)}
    again = b.sample(labels, torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again)
    # Over many draws, one class shows all of its phrasings (uniform among its distinct ones).
    many = b.sample(torch.full((2000,), n - 1), torch.Generator().manual_seed(1))
    assert {words(b.decode(r)) for r in many} == {words(t) for t in b.captions(n - 1)}


def test_table_rows_match_captions() -> None:
    b = bank("fashion_mnist")
    for c in range(10):
        caps = b.captions(c)
        assert b.counts[c] == len(caps)
        for k in range(b.table.shape[1]):
            assert b.decode(b.table[c, k]) == " ".join(tokenize(b.caption(c, k)))
        assert b.caption(c, len(caps)) == caps[0]  # k cycles


def test_fashion_names_and_shirt_vs_t_shirt() -> None:
    b = bank("fashion_mnist")
    assert "a photo of a t-shirt" in b.captions(0) and "a photo of a shirt" in b.captions(6)
    assert "a photo of a ankle boot" in b.captions(9) and "a photo of a boot" in b.captions(9)
    assert "a trousers" in b.captions(1) and "a pants" in b.captions(1)
    assert "a sneaker" in b.captions(7) and "a trainer" in b.captions(7)
    assert not torch.equal(b.encode("a shirt"), b.encode("a t-shirt"))


def test_cifar10_and_stacked_mnist_captions() -> None:
    cifar = bank("cifar10")
    assert {"a photo of a plane", "a photo of a aeroplane", "a photo of a airplane"} <= set(
        cifar.captions(0)
    )
    assert "a lorry" in cifar.captions(9) and "a car" in cifar.captions(1)
    stacked = bank("stacked_mnist")
    label = 100 * 7 + 10 * 1 + 4
    assert "red seven green one blue four" in stacked.captions(label)
    assert "digits 7 1 4" in stacked.captions(label)
    assert "blue four green one red seven" in stacked.held_out_captions(label)
    assert stacked.table.shape[:2] == (1000, 32)


def test_held_out_cycles_phrasings_deterministically() -> None:
    b = bank("mnist")
    labels = torch.full((10,), 7)
    tokens = b.held_out(labels)
    h = len(b.held_out_captions(7))
    for i, row in enumerate(tokens):
        assert b.decode(row) == " ".join(tokenize(b.held_out_text(7, i)))
        assert b.held_out_text(7, i) == b.held_out_captions(7)[i % h]
    assert torch.equal(tokens, b.held_out(labels))
    mixed = b.held_out(torch.tensor([3, 5]))
    assert b.decode(mixed[0]) == " ".join(tokenize(b.held_out_text(3, 0)))
    assert b.decode(mixed[1]) == " ".join(tokenize(b.held_out_text(5, 1)))


def test_encode_prompt() -> None:
    b = bank("mnist")
    tokens = b.encode("a handwritten seven")
    assert tokens.shape == (1, b.length)
    assert b.decode(tokens[0]) == "a handwritten seven"
    assert tokens[0, 3:].eq(0).all()
    assert torch.equal(b.encode("A Handwritten SEVEN!"), tokens)
    with pytest.raises(GancliError, match="shorten it"):
        b.encode(" ".join(["seven"] * (b.length + 1)))


def test_unknown_dataset_and_wrong_class_count() -> None:
    with pytest.raises(GancliError, match="'celeba'.*supported: digits, mnist.*folder"):
        new_source(DataInfo("celeba", "image", (3, 32, 32), 10))
    with pytest.raises(GancliError, match="1000 classes, not 10"):
        new_source(DataInfo("stacked_mnist", "image", (3, 32, 32), 10))
    # A checkpoint of a dataset this gancli has no templates for.
    with pytest.raises(GancliError, match="no built-in captions for dataset 'celeba'"):
        captions_from_state({**bank("mnist").state(), "dataset": "celeba"})


@pytest.mark.parametrize("dataset", ["mnist", "stacked_mnist"])
def test_state_round_trips_through_weights_only_load(dataset: str) -> None:
    b = bank(dataset)
    state = roundtrip(b.state())
    assert state["dataset"] == dataset and state["num_classes"] == b.num_classes
    again = captions_from_state(state)
    assert isinstance(again, CaptionBank)
    assert again.vocab.to_list() == b.vocab.to_list() and again.length == b.length
    assert torch.equal(again.table, b.table) and torch.equal(again.held, b.held)


def test_state_with_a_different_vocabulary_is_an_error() -> None:
    state = {**bank("mnist").state(), "words": ["a", "seven"]}
    with pytest.raises(GancliError, match="templates changed"):
        CaptionBank.from_state(state)


def test_to_device_moves_tables() -> None:
    b = CaptionBank("digits", 10).to("cpu")
    assert b.table.device.type == "cpu"
    if torch.cuda.is_available():
        labels = torch.tensor([1, 2], device="cuda")
        g = torch.Generator(device="cuda").manual_seed(0)
        assert b.sample(labels, g).device == labels.device


# ---- folder captions ----------------------------------------------------------------------


def image_files(root: Path) -> list[Path]:
    files = [root / "cats" / "001.png", root / "dogs" / "002.png"]
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")
    return files


def test_read_captions_tsv(tmp_path: Path) -> None:
    files = image_files(tmp_path)
    (tmp_path / "captions.tsv").write_text(
        "# file\tcaption\n\ndogs/002.png\ta dog on grass\ncats/001.png\tA black cat\n"
        "cats/999.png\tanother cat\n",
        encoding="utf-8",
    )
    assert read_captions(tmp_path, files) == ["A black cat", "a dog on grass"]
    assert read_captions(tmp_path, files[::-1]) == ["a dog on grass", "A black cat"]


def test_read_captions_json(tmp_path: Path) -> None:
    files = image_files(tmp_path)
    (tmp_path / "captions.json").write_text(
        json.dumps({"./cats/001.png": "a cat", "dogs/002.png": "a dog"}), encoding="utf-8"
    )
    assert read_captions(tmp_path, files) == ["a cat", "a dog"]


def test_read_captions_errors(tmp_path: Path) -> None:
    files = image_files(tmp_path)
    with pytest.raises(GancliError, match="no captions file.*captions.tsv"):
        read_captions(tmp_path, files)
    (tmp_path / "captions.tsv").write_text("cats/001.png\ta cat\n", encoding="utf-8")
    with pytest.raises(GancliError) as err:
        read_captions(tmp_path, files)
    assert "dogs/002.png" in str(err.value) and "FILE<TAB>caption" in str(err.value)
    (tmp_path / "captions.tsv").write_text("cats/001.png a cat\n", encoding="utf-8")
    with pytest.raises(GancliError, match="line 1: expected FILE<TAB>caption"):
        read_captions(tmp_path, files)
    (tmp_path / "captions.tsv").write_text(
        "cats/001.png\t!!\ndogs/002.png\tdog\n", encoding="utf-8"
    )
    with pytest.raises(GancliError, match="cats/001.png.*no words"):
        read_captions(tmp_path, files)
    (tmp_path / "captions.json").write_text("{}", encoding="utf-8")
    with pytest.raises(GancliError, match="keep one"):
        read_captions(tmp_path, files)
    (tmp_path / "captions.tsv").unlink()
    (tmp_path / "captions.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(GancliError, match="captions.json must be one object"):
        read_captions(tmp_path, files)


def test_folder_captions() -> None:
    caps = FolderCaptions(["a black cat", "a dog", "a dog on the grass"])
    assert len(caps) == 3 and caps.length == 5
    assert caps.vocab.to_list() == ["a", "black", "cat", "dog", "grass", "on", "the"]
    tokens = caps.sample(torch.tensor([2, 0]))
    assert tokens.shape == (2, 5)
    assert [caps.decode(row) for row in tokens] == ["a dog on the grass", "a black cat"]
    assert caps.caption(1) == "a dog"
    assert caps.decode(caps.encode("the black dog")[0]) == "the black dog"
    with pytest.raises(GancliError, match="'cot'.*did you mean 'cat'"):
        caps.encode("a black cot")
    again = captions_from_state(roundtrip(caps.state()))
    assert isinstance(again, FolderCaptions) and again.vocab.to_list() == caps.vocab.to_list()
    assert torch.equal(again.encode("a dog"), caps.encode("a dog"))
    # The checkpoint keeps the vocabulary, not the captions: nothing to draw until attached.
    for use in (
        lambda: again.sample(torch.tensor([0])),
        lambda: again.preview(8),
        lambda: again.eval_request(4, torch.Generator()),
    ):
        with pytest.raises(GancliError, match="keeps only their vocabulary.*prompt="):
            use()


def folder_data(root: Path, tsv: str) -> tuple[TensorData, DictConfig]:
    """Two images (cats/001.png, dogs/002.png) with the captions file `tsv`, as a folder
    dataset and its `data` config."""
    files = image_files(root)
    (root / "captions.tsv").write_text(tsv, encoding="utf-8")
    data = TensorData(
        DataInfo("folder", "image", (3, 8, 8), 2),
        torch.zeros(2, 8, 8, 3, dtype=torch.uint8),
        torch.tensor([0, 1]),
        files=files,
    )
    return data, OmegaConf.create({"root": str(root)})


CAT_AND_DOG = "cats/001.png\ta black cat\ndogs/002.png\ta dog on grass\n"


def test_a_folder_runs_captions_round_trip_through_state(tmp_path: Path) -> None:
    data, cfg = folder_data(tmp_path, CAT_AND_DOG)
    fresh = new_source(data.info)
    assert isinstance(fresh, FolderCaptions) and len(fresh) == 0  # read at attach
    trained = fresh.attach(data, cfg)
    assert [trained.decode(r) for r in trained.sample(torch.tensor([0, 1]))] == [
        "a black cat",
        "a dog on grass",
    ]
    restored = captions_from_state(roundtrip(trained.state())).attach(data, cfg)
    assert restored.vocab.to_list() == trained.vocab.to_list()
    assert restored.length == trained.length and torch.equal(restored.table, trained.table)
    # Other captions (a split's, or an edited file) are encoded with the trained ids, which a
    # vocabulary of their own would renumber ("dog" is id 4 of the trained words, 3 of these).
    (tmp_path / "captions.tsv").write_text("cats/001.png\ta dog\ndogs/002.png\ta cat\n")
    split = captions_from_state(trained.state()).attach(data, cfg)
    assert split.sample(torch.tensor([0])).tolist() == [[1, 4, 0, 0]]
    assert torch.equal(split.sample(torch.tensor([0])), trained.encode("a dog"))
    (tmp_path / "captions.tsv").write_text("cats/001.png\ta red cat\ndogs/002.png\ta dog\n")
    with pytest.raises(GancliError, match="unknown word 'red' in caption"):
        captions_from_state(trained.state()).attach(data, cfg)


def test_folder_data_without_file_names_is_refused(tmp_path: Path) -> None:
    data, cfg = folder_data(tmp_path, CAT_AND_DOG)
    data.files = None
    with pytest.raises(GancliError, match="file names"):
        new_source(data.info).attach(data, cfg)


# ---- the caption source interface ---------------------------------------------------------


def attached(kind: str, root: Path) -> tuple[CaptionSource, TensorData]:
    """A source of `kind` ready to train, with data it was attached to."""
    if kind == "folder":
        data, cfg = folder_data(root, CAT_AND_DOG)
    else:
        info = DataInfo("mnist", "image", (1, 8, 8), 10)
        rows = torch.zeros(4, 8, 8, 1, dtype=torch.uint8)
        data, cfg = TensorData(info, rows, torch.tensor([3, 3, 5, 7])), None
    return new_source(data.info).attach(data, cfg), data


def test_the_dataset_alone_picks_the_source() -> None:
    picked = {
        name: type(
            new_source(
                DataInfo(
                    name,
                    "image",
                    (1, 8, 8),
                    TEMPLATES[name].num_classes if name in TEMPLATES else 1,
                )
            )
        )
        for name in (*CAPTIONED_DATASETS, "folder")
    }
    assert picked == {**dict.fromkeys(CAPTIONED_DATASETS, CaptionBank), "folder": FolderCaptions}
    assert SOURCES == {"labels": CaptionBank, "folder": FolderCaptions}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_every_source_gives_token_requests_and_labels_exactly_when_it_evaluates_them(
    kind: str, tmp_path: Path
) -> None:
    source, _ = attached(kind, tmp_path)
    prompt = "a black cat" if kind == "folder" else "a handwritten seven"
    g = torch.Generator().manual_seed(0)
    requests = {
        "preview": source.preview(16),
        "eval": source.eval_request(10, g),
        "prompt": source.request(prompt, 3),
    }
    for what, req in requests.items():
        assert isinstance(req, Request), what
        assert req.c.dtype == torch.long and req.c.shape[1] == source.length, what
        assert all(source.decode(row) for row in req.c), what  # every row names something
    # Evaluation gets class labels (and which phrasings are unseen) exactly when it checks them.
    ev = requests["eval"]
    assert (ev.labels is not None) == (source.evaluates == "labels")
    assert (ev.unseen is not None) == (source.evaluates == "labels")
    prompted = requests["prompt"]
    assert prompted.c.tolist() == source.encode(prompt).tolist() * 3
    assert prompted.labels is None and prompted.nrow == 3
    assert len(source.request(prompt, 20).c) == 20 and source.request(prompt, 20).nrow == 8
    again = captions_from_state(roundtrip(source.state()))
    assert type(again) is type(source) and again.vocab.to_list() == source.vocab.to_list()


def test_per_class_source_draws_by_label_and_mismatches_by_class(tmp_path: Path) -> None:
    source, data = attached("labels", tmp_path)
    assert source.evaluates == "labels"
    assert torch.equal(source.match_keys(data), data.y)
    # The caption follows the label, whatever the item.
    tokens = source.tokens(torch.tensor([3, 3]), torch.tensor([0, 1]), torch.Generator())
    assert all(source.decode(t) in source.captions(3) for t in tokens)
    preview = source.preview(20)
    assert preview.labels.tolist() == [k for k in range(10) for _ in range(2)]
    assert preview.nrow == 2 and preview.unseen is None
    assert torch.equal(preview.c, source.sample(preview.labels, torch.Generator().manual_seed(0)))
    unprompted = source.request(None, 20)
    assert torch.equal(unprompted.c, preview.c) and torch.equal(unprompted.labels, preview.labels)
    ev = source.eval_request(6, torch.Generator().manual_seed(0))
    assert ev.labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert ev.unseen.tolist() == [False, True] * 3
    source.check(OmegaConf.create({"d": "acgan"}))  # class labels exist: ACGAN is fine


def test_per_image_source_draws_by_item_and_mismatches_by_caption(tmp_path: Path) -> None:
    source, data = attached("folder", tmp_path)
    assert source.evaluates == "none"
    assert source.match_keys(data).tolist() == [0, 1]
    # The caption follows the item, whatever its label.
    tokens = source.tokens(torch.tensor([0, 0]), torch.tensor([1, 0]), None)
    assert [source.decode(t) for t in tokens] == ["a dog on grass", "a black cat"]
    preview = source.preview(16)
    assert [source.decode(r) for r in preview.c] == ["a black cat"] * 8 + ["a dog on grass"] * 8
    assert preview.nrow == 8 and preview.labels is None
    ev = source.eval_request(5, torch.Generator())
    assert [source.decode(r) for r in ev.c] == ["a black cat", "a dog on grass"] * 2 + [
        "a black cat"
    ]
    with pytest.raises(GancliError, match='give prompt="a caption"'):
        source.request(None, 4)
    with pytest.raises(GancliError, match="acgan.*projection or concat"):
        source.check(OmegaConf.create({"d": "acgan"}))
    source.check(OmegaConf.create({"d": "projection"}))
    # Images with the same caption match each other; D's wrong pairs need another caption.
    same, cfg = folder_data(tmp_path / "same", "cats/001.png\ta cat\ndogs/002.png\ta cat\n")
    assert new_source(same.info).attach(same, cfg).match_keys(same).tolist() == [0, 0]


# ---- text encoder -------------------------------------------------------------------------


def test_text_encoder_shape_padding_and_distinct_outputs() -> None:
    torch.manual_seed(0)
    b = bank("stacked_mnist")
    enc = TextEncoder(len(b.vocab), out_dim=16, embed_dim=8, hidden=12).eval()
    prompts = ["red seven green one blue four", "red one green seven blue four", "digits 7 1 4"]
    tokens = torch.cat([b.encode(p) for p in prompts])
    out = enc(tokens)
    assert out.shape == (3, 16)
    # Same words, different order → different embedding; different captions too.
    assert not torch.allclose(out[0], out[1], atol=1e-4)
    assert not torch.allclose(out[0], out[2], atol=1e-4)
    # The same caption padded to other lengths, alone or in a batch, gives the same output.
    for length in (6, 10, 25):
        padded = b.vocab.encode(prompts[0], length).unsqueeze(0)
        torch.testing.assert_close(enc(padded)[0], out[0], rtol=1e-5, atol=1e-5)
    wide = torch.cat([b.vocab.encode(p, 20).unsqueeze(0) for p in prompts])
    torch.testing.assert_close(enc(wide), out, rtol=1e-5, atol=1e-5)


def test_text_encoder_reads_nothing_on_the_host_and_matches_packed_sequences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The accelerator's path (`_unpacked`) keeps the lengths on the device (packing needs them
    on the host: a sync on every call) and sums exactly what the CPU's packed GRU sums."""
    torch.manual_seed(0)
    enc = TextEncoder(10, out_dim=4, embed_dim=6, hidden=8).eval()
    tokens = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [9, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    lengths = (tokens != 0).sum(1).clamp(min=1)
    packed = pack_padded_sequence(
        enc.embed(tokens), lengths, batch_first=True, enforce_sorted=False
    )
    out = pad_packed_sequence(enc.rnn(packed)[0], batch_first=True)[0]
    torch.testing.assert_close(enc(tokens), enc.norm(enc.proj(out.sum(1) / lengths[:, None])))
    for read in ("cpu", "item", "tolist", "numpy"):
        monkeypatch.setattr(torch.Tensor, read, lambda *a, **k: pytest.fail("a host read"))
    torch.testing.assert_close(enc._unpacked(tokens, lengths), out.sum(1), rtol=1e-5, atol=1e-5)


def test_text_encoder_gradients_reach_the_embedding() -> None:
    torch.manual_seed(0)
    enc = TextEncoder(10, out_dim=4, embed_dim=6, hidden=8)
    tokens = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [0, 0, 0, 0, 0]])
    out = enc(tokens)
    assert out.shape == (3, 4) and torch.isfinite(out).all()
    out.square().sum().backward()
    grad = enc.embed.weight.grad
    assert grad is not None
    assert grad[1:6].abs().sum(dim=1).gt(0).all()  # every used word gets a gradient
    assert grad[0].abs().sum() == 0 and grad[6:].abs().sum() == 0  # padding and unused don't
    assert all(p.grad is not None for p in enc.parameters())
