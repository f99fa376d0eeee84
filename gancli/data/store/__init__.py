"""The data store: image datasets decoded once into gancli's prepared format and read back.

- `format`: the prepared format itself (a folder of `.npy` files and a manifest), its writer
  and its reader (`data=prepared`);
- `sources`: what decodes each image dataset's original files into it (`Source`), and the
  protocol by which evaluation counts the dataset's modes;
- `decode`: image files decoded into rows in worker processes (folders of images);
- `cache`: built-in datasets prepared on first use, under `GANCLI_CACHE`;
- `prepare`: `gancli data prepare`, a dataset prepared where the user says;
- `stream`: where a run keeps its data (`data.placement`), and the reader that streams batches
  from a prepared file.
"""
