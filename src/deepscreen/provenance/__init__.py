"""Provenance helpers shared by the ``c2pa`` and ``xmp`` signals.

- :mod:`.source_types`: the IPTC digital-source-type vocabulary and its AI meaning.
- :mod:`.ai_tools`: generative-AI tool names as they appear in software metadata fields.
- :mod:`.xmp_packet`: find and safely parse XMP packets in raw bytes.
- :mod:`.c2pa_status`: which C2PA validation codes mean tampering and which mean "untrusted".
- :mod:`.c2pa_manifest`: signer, actions, ingredients and AI declarations of a manifest store.
"""

from .ai_tools import find_ai_tool, known_ai_tools
from .source_types import AiInvolvement, SourceType, lookup_source_type, source_type_term

__all__ = ["AiInvolvement", "SourceType", "find_ai_tool", "known_ai_tools", "lookup_source_type",
           "source_type_term"]
