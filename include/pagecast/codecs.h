/*
 * RFC 6381 codec strings, derived from the parameter sets that the init
 * segment itself carries (avcC, hvcC, av1C, vpcC, esds, dac3/dec3, dOps,
 * dfLa), so the manifest always describes exactly what a player will be fed.
 * Pure functions over bytes: no libavformat, no I/O.
 */
#ifndef PAGECAST_CODECS_H
#define PAGECAST_CODECS_H

#include <stddef.h>
#include <stdint.h>

/**
 * Find the first sample entry in an fMP4 init segment (ftyp + moov, path
 * moov/trak/mdia/minf/stbl/stsd) and format its RFC 6381 codecs string:
 *   avc1/avc3 + avcC  -> "avc1.PPCCLL"         (profile, constraints, level hex)
 *   hvc1/hev1 + hvcC  -> "hvc1.P.C.TL.Bxx..." (prefix is the entry's own fourcc; 14496-15 Annex E)
 *   av01 + av1C       -> "av01.P.LLT.DD.M.CCC.cp.tc.mc.F" (AV1-ISOBMFF)
 *   vp09 + vpcC       -> "vp09.PP.LL.DD.CC.cp.tc.mc.FF"   (VP-codec-ISOBMFF)
 *   mp4a + esds       -> "mp4a.40.N" (AAC, N = audio object type) or
 *                        "mp4a.6B" / "mp4a.69" (MPEG-1/2 layer 3)
 *   ac-3, ec-3        -> "ac-3", "ec-3"
 *   Opus              -> "opus";  fLaC -> "fLaC"
 * The input is untrusted: every box length is checked against its parent.
 * @param out  receives a NUL-terminated string on success
 * @return 0, or PC_EINVAL (malformed or unknown), PC_ETOOBIG (@p cap too small)
 */
int pc_codecs_from_init(const uint8_t *init, size_t len, char *out, size_t cap);

/** The same from one configuration record, given the sample entry fourcc
 *  (e.g. "avc1") and the body of its configuration box (after the 8-byte box
 *  header; for full boxes such as vpcC and esds, including version/flags). */
int pc_codecs_from_config(const char fourcc[4], const uint8_t *cfg, size_t len,
                          char *out, size_t cap);

#endif
