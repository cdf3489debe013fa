"""What a file really is, from its first bytes (extensions lie: a PNG named .jpg)."""

from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 64

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


@dataclass(frozen=True)
class Sniffed:
    handler: str  # image, heif, raw-tiff, raw-cr3, video, jxl, unknown, empty
    format: str  # short name: JPEG, PNG, HEIF, AVIF, CR3, MP4, ...
    mime: str | None


def sniff(head: bytes) -> Sniffed:
    """Classify a file from its first HEAD_BYTES bytes."""
    if not head:
        return Sniffed("empty", "EMPTY", None)
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", "JPEG", "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", "PNG", "image/png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image", "GIF", "image/gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "WEBP", "image/webp")
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return Sniffed("video", "AVI", "video/x-msvideo")
    if head[:2] == b"BM":
        return Sniffed("image", "BMP", "image/bmp")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("tiff", "TIFF", "image/tiff")
    if head[:4] in (b"IIU\x00", b"IIRO", b"IIRS"):  # Panasonic RW2, Olympus ORF
        return Sniffed("raw-tiff", "RAW", None)
    if head.startswith(b"\xff\x0a") or head[4:12] == b"JXL \r\n\x87\n":
        return Sniffed("jxl", "JXL", "image/jxl")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        compatible = {head[i:i + 4] for i in range(16, min(len(head), 32), 4)}
        if brand == b"crx ":
            return Sniffed("raw-cr3", "CR3", "image/x-canon-cr3")
        heif_only = _HEIF_BRANDS - {b"mif1", b"msf1"}
        if brand in _AVIF_BRANDS or (brand == b"mif1" and b"avif" in compatible and not compatible & heif_only):
            return Sniffed("image", "AVIF", "image/avif")
        if brand in _HEIF_BRANDS:
            return Sniffed("heif", "HEIF", "image/heic" if brand != b"mif1" else "image/heif")
        if brand == b"qt  ":
            return Sniffed("video", "MOV", "video/quicktime")
        if brand.startswith(b"3g"):
            return Sniffed("video", "3GP", "video/3gpp")
        if brand in (b"M4V ", b"M4VH", b"M4VP"):
            return Sniffed("video", "M4V", "video/x-m4v")
        return Sniffed("video", "MP4", "video/mp4")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return Sniffed("video", "MOV", "video/quicktime")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        webm = b"webm" in head
        return Sniffed("video", "WEBM" if webm else "MKV", "video/webm" if webm else "video/x-matroska")
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3") or (len(head) > 188 and head[0] == 0x47):
        return Sniffed("video", "MPEG", "video/mpeg")
    if head[:4] == b"\x30\x26\xb2\x75":
        return Sniffed("video", "WMV", "video/x-ms-wmv")
    return Sniffed("unknown", "UNKNOWN", None)
