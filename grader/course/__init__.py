"""The course as data: its manifest, its sources and stubs, its texts in each language."""
