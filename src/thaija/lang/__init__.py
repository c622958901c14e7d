"""The language layer: detect, normalize, segment, sentences, chunk (offsets into the original text).

>>> from thaija.lang import detect, segment, chunk
>>> detect("ราคา iPhone 15 は 12万円 ครับ").lang
'th'
"""
from typing import TYPE_CHECKING

from thaija.config import lazy_stage

__all__ = [
    "Chunk", "ChunkConfig", "Detection", "Normalized", "Profile", "Sentence", "Span", "Token",
    "chunk", "chunk_stream", "detect", "detect_lang", "get_profile", "normalize", "normalize_stream", "segment",
    "segment_stream", "sentences", "sentences_stream", "tokenize",
]

if TYPE_CHECKING:  # pragma: no cover
    from thaija.lang.chunk import Chunk, ChunkConfig, chunk
    from thaija.lang.detect import Detection, Span, detect, detect_lang
    from thaija.lang.normalize import Normalized, normalize
    from thaija.lang.profiles import Profile, get_profile
    from thaija.lang.segment import Token, segment, tokenize
    from thaija.lang.sentences import Sentence, sentences
    from thaija.lang.stream import chunk_stream, normalize_stream, segment_stream, sentences_stream

# names resolve on first use (thaija.lang.config, read by the CLI, loads no segmenter)
lazy_stage(__name__, {
    "Chunk": "chunk", "ChunkConfig": "config", "chunk": "chunk",
    "Detection": "detect", "Span": "detect", "detect": "detect", "detect_lang": "detect",
    "Normalized": "normalize", "normalize": "normalize", "Profile": "profiles", "get_profile": "profiles",
    "Token": "segment", "segment": "segment", "tokenize": "segment", "Sentence": "sentences",
    "sentences": "sentences", "chunk_stream": "stream", "normalize_stream": "stream",
    "segment_stream": "stream", "sentences_stream": "stream",
})
