"""Files in and out: source checkpoints (``checkpoint``), the .rrwkv writer (``format``), the
exporter (``export``), element types (``dtypes``) and atomic writes (``atomic``). Reading and
validating .rrwkv files is the C++ core's job (``rrwkv_rt.ModelFile``)."""
