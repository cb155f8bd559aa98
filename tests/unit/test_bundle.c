/*
 * Unit tests for the bundle format: writer, reader, validator, JSON dump and
 * source fingerprints (packager/bundle.c, bundle_dump.c, fingerprint.c).
 *
 * Every test works in a fresh mkdtemp directory.  Corrupt fixtures are made
 * by writing a valid bundle with the real writer, then mutating its bytes
 * (and, where the point is to reach a check behind the checksum, resealing
 * it with pc_bundle_checksum) so each test names exactly one broken rule.
 */
#include <criterion/criterion.h>

#include "pagecast/bundle.h"
#include "pagecast/status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/mount.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- fixtures */

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/pc-bundle-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    /* The ENOSPC test's tmpfs, if an assertion left it mounted. */
    char small[128];
    snprintf(small, sizeof small, "%s/small", tmpdir);
    umount2(small, MNT_DETACH);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(bundle, .init = setup, .fini = teardown);

static char *in_dir(const char *name)
{
    static char paths[4][256];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
    return p;
}

/* Names in the test directory, sorted, as "a,b,c". */
static const char *dir_listing(void)
{
    static char out[1024];
    struct dirent **list;
    int n = scandir(tmpdir, &list, NULL, alphasort);
    cr_assert_geq(n, 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
            if (out[0])
                strcat(out, ",");
            strncat(out, list[i]->d_name, sizeof out - strlen(out) - 2);
        }
        free(list[i]);
    }
    free(list);
    return out;
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    cr_assert_not_null(buf);
    cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

static void write_whole(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* ------------------------------------------------------ the sample title */

/* Two tracks; blob sizes chosen so every padding case occurs: no gap, a gap
 * of exactly 8 (bare free box), gaps of 1..7 (extended by a page), large. */
#define NTRACKS 2

static size_t init_size(unsigned t, uint32_t page)
{
    return t == 0 ? 700 : page - 1;
}

static size_t seg_size(unsigned t, unsigned k, uint32_t page)
{
    switch ((k + 3 * t) % 7) {
    case 0: return page;
    case 1: return page - 3;
    case 2: return page - 8;
    case 3: return 1;
    case 4: return 5000;
    case 5: return 2 * (size_t)page + 100;
    default: return page - 7;
    }
}

static uint32_t seg_dur(unsigned t, unsigned k, unsigned n)
{
    if (t == 0)
        return k == n - 1 ? 270000 : 540000;
    return k == n - 1 ? 145024 : 288000 + (k % 2) * 1024;
}

static uint64_t seg_start(unsigned t, unsigned k, unsigned n)
{
    uint64_t s = t == 0 ? 0 : 1024;      /* audio starts late: allowed */
    for (unsigned i = 0; i < k; i++)
        s += seg_dur(t, i, n);
    return s;
}

static uint32_t seg_key_size(unsigned t, unsigned k, uint32_t page)
{
    size_t sz = seg_size(t, k, page);
    return t == 0 ? (uint32_t)(sz < 50 ? sz : 50 + k) : 0;
}

/* The byte at position i of blob (t, k); k == INIT for the init segment. */
#define INIT 100000u
static uint8_t pat(unsigned t, unsigned k, size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u ^ (t * 0x9e3779b9u) ^ (k * 0x85ebca6bu);
    return (uint8_t)(x >> 13);
}

static uint8_t *blob(unsigned t, unsigned k, size_t n)
{
    uint8_t *b = malloc(n);
    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = pat(t, k, i);
    return b;
}

static void describe(struct pc_track_record *r, unsigned t)
{
    memset(r, 0, sizeof *r);
    if (t == 0) {
        r->kind = PC_KIND_VIDEO;
        r->codec = PC_CODEC_H264;
        r->flags = PC_TRACK_DEFAULT;
        r->timescale = 90000;
        r->width = 1920;
        r->height = 1080;
        r->frame_rate_num = 25;
        r->frame_rate_den = 1;
        r->sar_num = 1;
        r->sar_den = 1;
        strcpy(r->codecs, "avc1.64001f");
        strcpy(r->language, "und");
        strcpy(r->name, "Main video");
    } else {
        r->kind = PC_KIND_AUDIO;
        r->codec = PC_CODEC_AAC;
        r->flags = PC_TRACK_DEFAULT;
        r->timescale = 48000;
        r->sample_rate = 48000;
        r->channels = 2;
        r->group = 1;
        r->source_stream = 1;
        strcpy(r->codecs, "mp4a.40.2");
        strcpy(r->language, "en");
        strcpy(r->name, "English");
    }
    /* Writer-owned: must be ignored. */
    r->bitrate_peak = 777;
    r->bitrate_avg = 555;
    r->init_offset = 12345;
    r->segment_count = 99;
    r->duration = 1;
    r->reserved[3] = 0xAA;
}

/* Hand a blob to the writer in three pieces (some may be empty). */
static int add_blob(struct pc_bundle_writer *w, unsigned t, unsigned k,
                    const struct pc_segment_record *seg, size_t n)
{
    uint8_t *b = blob(t, k, n);
    struct iovec iov[3] = {
        { b, n / 3 }, { b + n / 3, n / 2 - n / 3 }, { b + n / 2, n - n / 2 },
    };
    int rc = seg ? pc_bundle_writer_add_segment(w, t, seg, iov, 3)
                 : pc_bundle_writer_add_init(w, t, iov, 3);
    free(b);
    return rc;
}

static struct pc_segment_record sample_seg(unsigned t, unsigned k, unsigned n, uint32_t page)
{
    struct pc_segment_record s = {
        .offset = 0xdeadbeef,            /* writer-owned: ignored */
        .size = 1,
        .start = seg_start(t, k, n),
        .duration = seg_dur(t, k, n),
        .sample_count = t == 0 ? 150 : 281,
        .flags = PC_SEGMENT_KEY,
        .key_size = seg_key_size(t, k, page),
        .reserved = 42,
    };
    return s;
}

static const struct pc_bundle_writer_opts *sample_opts(uint32_t page, uint64_t hint)
{
    static struct pc_bundle_writer_opts o;
    o = (struct pc_bundle_writer_opts){
        .page_size = page, .track_count = NTRACKS, .segments_hint = hint,
        .source_count = 2, .source_size = 123456789,
        .source_stat_hash = 0x1122334455667788ull,
        .source_content_hash = 0x99aabbccddeeff00ull,
    };
    return &o;
}

/* The other thread of a caller_writeback writer: writeback, over and over,
 * while the test appends. */
struct writeback_loop {
    struct pc_bundle_writer *w;
    atomic_bool stop;
};

static void *writeback_loop(void *arg)
{
    struct writeback_loop *l = arg;
    while (!atomic_load(&l->stop)) {
        pc_bundle_writer_writeback(l->w);
        sched_yield();
    }
    return NULL;
}

/* Write the sample title with @p n segments per track, starting writeback
 * from a second thread if @p caller_writeback; @return generation. */
static uint64_t write_sample_with(const char *path, uint32_t page, uint64_t hint, unsigned n,
                                  bool caller_writeback)
{
    struct pc_bundle_writer *w;
    char err[512];
    uint64_t gen = 0;
    struct pc_bundle_writer_opts o = *sample_opts(page, hint);
    o.caller_writeback = caller_writeback;

    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), 0, "%s", err);
    struct writeback_loop loop = { .w = w };
    pthread_t th;
    if (caller_writeback)
        cr_assert_eq(pthread_create(&th, NULL, writeback_loop, &loop), 0);
    for (unsigned t = 0; t < NTRACKS; t++) {
        struct pc_track_record r;
        describe(&r, t);
        cr_assert_eq(pc_bundle_writer_set_track(w, t, &r), 0);
    }
    for (unsigned t = 0; t < NTRACKS; t++)
        cr_assert_eq(add_blob(w, t, INIT, NULL, init_size(t, page ? page : 4096)), 0);
    uint32_t pg = page ? page : 4096;
    for (unsigned k = 0; k < n; k++) {
        for (unsigned t = 0; t < NTRACKS; t++) {
            struct pc_segment_record s = sample_seg(t, k, n, pg);
            cr_assert_eq(add_blob(w, t, k, &s, seg_size(t, k, pg)), 0);
        }
    }
    if (caller_writeback) {
        atomic_store(&loop.stop, true);
        pthread_join(th, NULL);     /* not concurrently with commit */
    }
    cr_assert_eq(pc_bundle_writer_commit(w, &gen, err, sizeof err), 0, "%s", err);
    return gen;
}

static uint64_t write_sample(const char *path, uint32_t page, uint64_t hint, unsigned n)
{
    return write_sample_with(path, page, hint, n, false);
}

static uint64_t expected_pad(uint64_t size, uint32_t page)
{
    uint64_t gap = (page - size % page) % page;
    return gap > 0 && gap < 8 ? gap + page : gap;
}

struct placed {
    uint64_t off, size;
    unsigned t, k;
};

static int by_offset(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static void check_bytes(int fd, unsigned t, unsigned k, uint64_t off, uint64_t size)
{
    uint8_t *got = malloc(size);
    cr_assert_eq(pread(fd, got, size, (off_t)off), (ssize_t)size);
    for (uint64_t i = 0; i < size; i++)
        cr_assert_eq(got[i], pat(t, k, i), "blob %u/%u byte %" PRIu64 " differs", t, k, i);
    free(got);
}

/* Check that the padding after a blob ending at @p end is a free box of
 * exactly @p gap bytes: u32 BE size, "free", zeros. */
static void check_free_box(int fd, uint64_t end, uint64_t gap)
{
    if (gap == 0)
        return;
    cr_assert_geq(gap, 8);
    uint8_t *p = malloc(gap);
    cr_assert_eq(pread(fd, p, gap, (off_t)end), (ssize_t)gap);
    uint32_t box = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    cr_assert_eq(box, gap, "free box size %u, gap %" PRIu64, box, gap);
    cr_assert_eq(memcmp(p + 4, "free", 4), 0);
    for (uint64_t i = 8; i < gap; i++)
        cr_assert_eq(p[i], 0);
    free(p);
}

/* Open the sample title and check every field and every byte. */
static void check_sample(const char *path, uint32_t page, unsigned n, uint64_t gen,
                         uint64_t t_before, uint64_t t_after)
{
    struct pc_bundle b;
    char err[512];

    cr_assert_eq(pc_bundle_open(&b, path, err, sizeof err), 0, "%s", err);
    const struct pc_bundle_header *h = b.hdr;
    cr_assert_eq(memcmp(h->magic, PC_BUNDLE_MAGIC, 8), 0);
    cr_assert_eq(h->version, 1);
    cr_assert_eq(h->header_size, 128);
    cr_assert_eq(h->page_size, page);
    cr_assert_eq(h->flags, 0);
    cr_assert_eq(h->track_count, NTRACKS);
    cr_assert_eq(h->track_record_size, 256);
    cr_assert_eq(h->segment_record_size, 48);
    cr_assert_eq(h->source_count, 2);
    cr_assert_eq(h->source_size, 123456789);
    cr_assert_eq(h->source_stat_hash, 0x1122334455667788ull);
    cr_assert_eq(h->source_content_hash, 0x99aabbccddeeff00ull);
    cr_assert_eq(h->track_table_offset, 128);
    cr_assert_eq(h->segment_table_offset, 128 + NTRACKS * 256);
    cr_assert_eq(h->segment_capacity, (uint64_t)NTRACKS * n);
    cr_assert_eq(h->data_offset % page, 0);
    cr_assert_geq(h->data_offset, 128 + NTRACKS * 256 + 48ull * NTRACKS * n);
    cr_assert_eq(h->data_end, b.file_size);
    cr_assert_eq(b.file_size % page, 0);
    cr_assert_neq(h->generation, 0);
    cr_assert_eq(h->generation, gen);
    cr_assert_geq(h->created_unix_ms, t_before);
    cr_assert_leq(h->created_unix_ms, t_after);
    cr_assert_eq(h->checksum, pc_bundle_checksum(b.map, b.map_len));
    cr_assert_eq(b.map_len, 128 + NTRACKS * 256 + 48ull * NTRACKS * n);

    struct placed *all = calloc(NTRACKS * (n + 1), sizeof *all);
    size_t nall = 0;
    for (unsigned t = 0; t < NTRACKS; t++) {
        const struct pc_track_record *tr = &b.tracks[t];
        struct pc_track_record want;
        describe(&want, t);
        cr_assert_eq(tr->kind, want.kind);
        cr_assert_eq(tr->codec, want.codec);
        cr_assert_eq(tr->flags, want.flags);
        cr_assert_eq(tr->timescale, want.timescale);
        cr_assert_eq(tr->width, want.width);
        cr_assert_eq(tr->height, want.height);
        cr_assert_eq(tr->frame_rate_num, want.frame_rate_num);
        cr_assert_eq(tr->frame_rate_den, want.frame_rate_den);
        cr_assert_eq(tr->sar_num, want.sar_num);
        cr_assert_eq(tr->sar_den, want.sar_den);
        cr_assert_eq(tr->sample_rate, want.sample_rate);
        cr_assert_eq(tr->channels, want.channels);
        cr_assert_eq(tr->group, want.group);
        cr_assert_str_eq(tr->codecs, want.codecs);
        cr_assert_str_eq(tr->language, want.language);
        cr_assert_str_eq(tr->name, want.name);
        cr_assert_eq(tr->source_index, want.source_index);
        cr_assert_eq(tr->source_stream, want.source_stream);
        for (size_t i = 0; i < sizeof tr->reserved; i++)
            cr_assert_eq(tr->reserved[i], 0);

        cr_assert_eq(tr->segment_first, (uint64_t)t * n);
        cr_assert_eq(tr->segment_count, n);
        cr_assert_eq(tr->segment_capacity, n);
        cr_assert_eq(tr->init_size, init_size(t, page));
        cr_assert_eq(tr->init_offset % page, 0);
        cr_assert_geq(tr->init_offset, h->data_offset);
        all[nall++] = (struct placed){ tr->init_offset, tr->init_size, t, INIT };

        uint64_t count, dur = 0, bytes = 0, peak = 0;
        uint32_t maxd = 0;
        const struct pc_segment_record *s = pc_bundle_track_segments(&b, t, &count);
        cr_assert_eq(count, n);
        for (unsigned k = 0; k < n; k++) {
            cr_assert_eq(s[k].size, seg_size(t, k, page));
            cr_assert_eq(s[k].offset % page, 0);
            cr_assert_eq(s[k].start, seg_start(t, k, n));
            cr_assert_eq(s[k].duration, seg_dur(t, k, n));
            cr_assert_eq(s[k].sample_count, t == 0 ? 150 : 281);
            cr_assert_eq(s[k].flags, PC_SEGMENT_KEY);
            cr_assert_eq(s[k].key_size, seg_key_size(t, k, page));
            cr_assert_eq(s[k].reserved, 0);
            all[nall++] = (struct placed){ s[k].offset, s[k].size, t, k };
            dur += s[k].duration;
            bytes += s[k].size;
            maxd = s[k].duration > maxd ? s[k].duration : maxd;
            uint64_t num = s[k].size * 8 * tr->timescale;
            uint64_t br = (num + s[k].duration - 1) / s[k].duration;
            peak = br > peak ? br : peak;
        }
        cr_assert_eq(tr->duration, dur);
        cr_assert_eq(tr->max_segment_duration, maxd);
        cr_assert_eq(tr->bitrate_peak, peak);
        cr_assert_eq(tr->bitrate_avg, (bytes * 8 * tr->timescale + dur - 1) / dur);
    }

    /* Every blob is where the index says, byte for byte, followed by its
     * free box, and the blobs tile [data_offset, file size) exactly. */
    qsort(all, nall, sizeof *all, by_offset);
    uint64_t expect_off = h->data_offset;
    for (size_t i = 0; i < nall; i++) {
        cr_assert_eq(all[i].off, expect_off, "blob %zu at %" PRIu64 ", expected %" PRIu64,
                     i, all[i].off, expect_off);
        check_bytes(b.fd, all[i].t, all[i].k, all[i].off, all[i].size);
        uint64_t gap = expected_pad(all[i].size, page);
        check_free_box(b.fd, all[i].off + all[i].size, gap);
        expect_off = all[i].off + all[i].size + gap;
    }
    cr_assert_eq(expect_off, b.file_size);
    free(all);
    pc_bundle_close(&b);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------- round trips */

Test(bundle, round_trip_two_tracks)
{
    const char *path = in_dir("title.pcb");
    uint64_t t0 = now_ms();
    uint64_t gen = write_sample(path, 0, 0, 9);
    uint64_t t1 = now_ms();
    check_sample(path, 4096, 9, gen, t0, t1);
    cr_assert_str_eq(dir_listing(), "title.pcb");
}

Test(bundle, round_trip_page_size_16384)
{
    const char *path = in_dir("title.pcb");
    uint64_t t0 = now_ms();
    uint64_t gen = write_sample(path, 16384, 0, 8);
    check_sample(path, 16384, 8, gen, t0, now_ms());
}

Test(bundle, round_trip_page_size_1mib)
{
    const char *path = in_dir("title.pcb");
    uint64_t t0 = now_ms();
    uint64_t gen = write_sample(path, 1u << 20, 4, 3);
    check_sample(path, 1u << 20, 3, gen, t0, now_ms());
}

Test(bundle, round_trip_with_writeback_from_another_thread)
{
    /* 1 MiB pages: tens of megabytes, so writeback runs several times
     * while the other thread appends. */
    const char *path = in_dir("title.pcb");
    uint64_t t0 = now_ms();
    uint64_t gen = write_sample_with(path, 1u << 20, 0, 12, true);
    check_sample(path, 1u << 20, 12, gen, t0, now_ms());
}

Test(bundle, relocates_index_when_hint_is_exceeded)
{
    const char *path = in_dir("title.pcb");
    uint64_t t0 = now_ms();
    uint64_t gen = write_sample(path, 4096, 1, 250);          /* 500 records */
    check_sample(path, 4096, 250, gen, t0, now_ms());

    struct pc_bundle b;
    char err[256];
    cr_assert_eq(pc_bundle_open(&b, path, err, sizeof err), 0, "%s", err);
    /* 128 + 512 + 500 * 48 = 24640 bytes of index: 7 pages. */
    cr_assert_eq(b.hdr->data_offset, 7 * 4096);
    pc_bundle_close(&b);
    cr_assert_str_eq(dir_listing(), "title.pcb");      /* both temp files gone */
}

Test(bundle, relative_path_in_current_directory)
{
    char cwd[512];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(tmpdir), 0);
    uint64_t t0 = now_ms();
    uint64_t gen = write_sample("rel.pcb", 0, 0, 2);
    check_sample("rel.pcb", 4096, 2, gen, t0, now_ms());
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_str_eq(dir_listing(), "rel.pcb");
}

Test(bundle, generations_are_unique_and_nonzero)
{
    const char *path = in_dir("title.pcb");
    uint64_t g1 = write_sample(path, 0, 0, 1);
    uint64_t g2 = write_sample(path, 0, 0, 1);
    cr_assert_neq(g1, 0);
    cr_assert_neq(g2, 0);
    cr_assert_neq(g1, g2);
    struct pc_bundle b;
    cr_assert_eq(pc_bundle_open(&b, path, NULL, 0), 0);
    cr_assert_eq(b.hdr->generation, g2);
    pc_bundle_close(&b);
}

Test(bundle, writer_ignores_callers_bitrates_and_offsets)
{
    /* One track, two segments of known sizes: bitrates are exact. */
    const char *path = in_dir("br.pcb");
    struct pc_bundle_writer *w;
    struct pc_bundle_writer_opts o = { .track_count = 1 };
    char err[256];
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), 0, "%s", err);
    struct pc_track_record r;
    describe(&r, 1);                                 /* audio, 48 kHz */
    r.bitrate_peak = 1;
    r.bitrate_avg = 2;
    cr_assert_eq(pc_bundle_writer_set_track(w, 0, &r), 0);
    static uint8_t data[30001];
    struct iovec iov = { data, 100 };
    cr_assert_eq(pc_bundle_writer_add_init(w, 0, &iov, 1), 0);
    struct pc_segment_record s = { .start = 0, .duration = 96000 };   /* 2 s */
    iov.iov_len = 30001;                             /* 120004 bit/s */
    cr_assert_eq(pc_bundle_writer_add_segment(w, 0, &s, &iov, 1), 0);
    s.start = 96000;
    s.duration = 48000 * 3;                          /* 3 s */
    iov.iov_len = 15000;                             /* 40000 bit/s */
    cr_assert_eq(pc_bundle_writer_add_segment(w, 0, &s, &iov, 1), 0);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), 0, "%s", err);

    struct pc_bundle b;
    cr_assert_eq(pc_bundle_open(&b, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(b.tracks[0].bitrate_peak, 120004);
    /* (30001 + 15000) * 8 / 5 s = 72001.6 -> rounded up */
    cr_assert_eq(b.tracks[0].bitrate_avg, 72002);
    cr_assert_eq(b.tracks[0].duration, 240000);
    cr_assert_eq(b.tracks[0].max_segment_duration, 144000);
    pc_bundle_close(&b);
}

/* ------------------------------------------------------ writer failures */

Test(bundle, abort_leaves_no_file)
{
    const char *path = in_dir("title.pcb");
    struct pc_bundle_writer *w;
    char err[256];

    cr_assert_eq(pc_bundle_writer_open(&w, path, sample_opts(0, 0), err, sizeof err), 0);
    cr_assert_neq(dir_listing()[0], '\0', "the temporary file exists while writing");
    cr_assert_eq(dir_listing()[0], '.', "the temporary file is hidden");
    struct pc_track_record r;
    describe(&r, 0);
    cr_assert_eq(pc_bundle_writer_set_track(w, 0, &r), 0);
    cr_assert_eq(add_blob(w, 0, INIT, NULL, 5000), 0);
    pc_bundle_writer_abort(w);
    cr_assert_str_eq(dir_listing(), "");
    pc_bundle_writer_abort(NULL);                   /* safe */
}

Test(bundle, temp_file_is_named_after_target)
{
    const char *path = in_dir("title.pcb");
    struct pc_bundle_writer *w;
    cr_assert_eq(pc_bundle_writer_open(&w, path, sample_opts(0, 0), NULL, 0), 0);
    const char *l = dir_listing();
    cr_assert_eq(strlen(l), strlen(".title.pcb.XXXXXX.tmp"), "%s", l);
    cr_assert_eq(strncmp(l, ".title.pcb.", 11), 0, "%s", l);
    cr_assert_str_eq(l + strlen(l) - 4, ".tmp");
    pc_bundle_writer_abort(w);
}

Test(bundle, failed_commit_keeps_previous_bundle)
{
    const char *path = in_dir("title.pcb");
    uint64_t t0 = now_ms();
    uint64_t gen = write_sample(path, 0, 0, 3);
    uint64_t t1 = now_ms();

    struct pc_bundle_writer *w;
    char err[512];
    cr_assert_eq(pc_bundle_writer_open(&w, path, sample_opts(0, 0), err, sizeof err), 0);
    for (unsigned t = 0; t < NTRACKS; t++) {
        struct pc_track_record r;
        describe(&r, t);
        cr_assert_eq(pc_bundle_writer_set_track(w, t, &r), 0);
        cr_assert_eq(add_blob(w, t, INIT, NULL, 1000), 0);
    }
    for (unsigned k = 0; k < 2; k++) {
        for (unsigned t = 0; t < NTRACKS; t++) {
            struct pc_segment_record s = sample_seg(t, k, 5, 4096);
            cr_assert_eq(add_blob(w, t, k, &s, 3000), 0);
        }
    }
    struct pc_segment_record bad = sample_seg(1, 2, 5, 4096);
    bad.start += 1;                                 /* a one-tick gap */
    cr_assert_str_eq(pc_bundle_writer_error(w), "");
    cr_assert_eq(add_blob(w, 1, 2, &bad, 3000), PC_EINVAL);
    cr_assert_not_null(strstr(pc_bundle_writer_error(w), "segment 2 of track 1 starts at"),
                       "%s", pc_bundle_writer_error(w));
    /* The writer stays failed: later calls cannot paper over the gap. */
    struct pc_segment_record good = sample_seg(1, 2, 5, 4096);
    cr_assert_eq(add_blob(w, 1, 2, &good, 3000), PC_EINVAL);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "segment 2 of track 1"), "%s", err);
    cr_assert_not_null(strstr(err, "contiguous"), "%s", err);
    cr_assert_not_null(strstr(err, path), "%s", err);

    cr_assert_str_eq(dir_listing(), "title.pcb");
    check_sample(path, 4096, 3, gen, t0, t1);
}

static struct pc_bundle_writer *described_writer(const char *path)
{
    struct pc_bundle_writer *w;
    cr_assert_eq(pc_bundle_writer_open(&w, path, sample_opts(0, 0), NULL, 0), 0);
    for (unsigned t = 0; t < NTRACKS; t++) {
        struct pc_track_record r;
        describe(&r, t);
        cr_assert_eq(pc_bundle_writer_set_track(w, t, &r), 0);
    }
    return w;
}

Test(bundle, commit_requires_init_and_segments_for_every_track)
{
    const char *path = in_dir("title.pcb");
    char err[512];
    struct pc_segment_record s = sample_seg(0, 0, 1, 4096);
    s.key_size = 0;

    /* track 1 has no init segment */
    struct pc_bundle_writer *w = described_writer(path);
    cr_assert_eq(add_blob(w, 0, INIT, NULL, 10), 0);
    cr_assert_eq(add_blob(w, 0, 0, &s, 10), 0);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "track 1 has no init segment"), "%s", err);

    /* track 1 has no segments */
    w = described_writer(path);
    for (unsigned t = 0; t < NTRACKS; t++)
        cr_assert_eq(add_blob(w, t, INIT, NULL, 10), 0);
    cr_assert_eq(add_blob(w, 0, 0, &s, 10), 0);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "track 1 has no segments"), "%s", err);

    /* track 1 never described */
    cr_assert_eq(pc_bundle_writer_open(&w, path, sample_opts(0, 0), NULL, 0), 0);
    struct pc_track_record r;
    describe(&r, 0);
    cr_assert_eq(pc_bundle_writer_set_track(w, 0, &r), 0);
    cr_assert_eq(add_blob(w, 0, INIT, NULL, 10), 0);
    cr_assert_eq(add_blob(w, 0, 0, &s, 10), 0);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "track 1 was never described"), "%s", err);

    /* a segment before its track's init segment */
    w = described_writer(path);
    cr_assert_eq(add_blob(w, 0, 0, &s, 10), PC_EINVAL);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "before the track's init segment"), "%s", err);

    cr_assert_str_eq(dir_listing(), "");
}

Test(bundle, writer_rejects_bad_arguments)
{
    const char *path = in_dir("title.pcb");
    struct pc_bundle_writer *w = NULL;
    struct pc_bundle_writer_opts o = { .track_count = 1 };
    char err[512];

    o.page_size = 3000;
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "page size 3000"), "%s", err);
    o.page_size = 2048;
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), PC_EINVAL);
    o.page_size = 2u << 20;
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), PC_EINVAL);
    o.page_size = 0;
    o.track_count = 0;
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "track count 0"), "%s", err);
    o.track_count = 65;
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), PC_EINVAL);
    o.track_count = 1;
    cr_assert_eq(pc_bundle_writer_open(&w, in_dir(""), &o, err, sizeof err), PC_EINVAL);
    cr_assert_null(w);
    cr_assert_str_eq(dir_listing(), "");

    struct pc_track_record r;
    describe(&r, 0);
    static const char *const why[] = {
        "unknown kind", "codec", "timescale 0", "name is not NUL-terminated",
    };
    for (int i = 0; i < 4; i++) {
        struct pc_track_record bad = r;
        if (i == 0) bad.kind = 7;
        if (i == 1) bad.codec = PC_CODEC_AAC;       /* audio codec on video */
        if (i == 2) bad.timescale = 0;
        if (i == 3) memset(bad.name, 'x', sizeof bad.name);
        cr_assert_eq(pc_bundle_writer_open(&w, path, &o, NULL, 0), 0);
        cr_assert_eq(pc_bundle_writer_set_track(w, 0, &bad), PC_EINVAL);
        cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
        cr_assert_not_null(strstr(err, why[i]), "%s", err);
    }

    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, NULL, 0), 0);
    cr_assert_eq(pc_bundle_writer_set_track(w, 1, &r), PC_EINVAL);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "track 1 out of range"), "%s", err);

    /* empty blob, zero duration, key_size past the blob, second init */
    struct iovec none = { NULL, 0 };
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, NULL, 0), 0);
    cr_assert_eq(pc_bundle_writer_add_init(w, 0, &none, 1), PC_EINVAL);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "init segment of track 0 is empty"), "%s", err);

    struct pc_segment_record s = { .duration = 0 };
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, NULL, 0), 0);
    cr_assert_eq(add_blob(w, 0, INIT, NULL, 10), 0);
    cr_assert_eq(add_blob(w, 0, 0, &s, 10), PC_EINVAL);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "segment 0 of track 0 has duration 0"), "%s", err);

    s.duration = 10;
    s.key_size = 11;
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, NULL, 0), 0);
    cr_assert_eq(add_blob(w, 0, INIT, NULL, 10), 0);
    cr_assert_eq(add_blob(w, 0, 0, &s, 10), PC_EINVAL);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_EINVAL);
    cr_assert_not_null(strstr(err, "key frame size 11"), "%s", err);

    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, NULL, 0), 0);
    cr_assert_eq(add_blob(w, 0, INIT, NULL, 10), 0);
    cr_assert_eq(add_blob(w, 0, INIT, NULL, 10), PC_EINVAL);
    pc_bundle_writer_abort(w);

    cr_assert_str_eq(dir_listing(), "");
}

Test(bundle, writer_reports_missing_directory)
{
    const char *path = in_dir("no/such/dir/title.pcb");
    struct pc_bundle_writer *w = NULL;
    char err[512];
    cr_assert_eq(pc_bundle_writer_open(&w, path, sample_opts(0, 0), err, sizeof err),
                 PC_ENOENT);
    cr_assert_null(w);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, "no/such/dir/.title.pcb."), "%s", err);
    cr_assert_not_null(strstr(err, "No such file or directory"), "%s", err);
}

Test(bundle, write_error_surfaces_with_path_and_removes_temp_file)
{
    /* A file size limit makes write() fail mid-bundle, as a full disk
     * would (EFBIG rather than ENOSPC, which a unit test cannot provoke). */
    const char *path = in_dir("title.pcb");
    uint64_t t0 = now_ms();
    uint64_t gen = write_sample(path, 0, 0, 2);
    uint64_t t1 = now_ms();

    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);

    struct pc_bundle_writer *w = described_writer(path);
    char err[512];
    int rc = 0;
    for (unsigned t = 0; t < NTRACKS && !rc; t++)
        rc = add_blob(w, t, INIT, NULL, 100);
    for (unsigned k = 0; k < 100 && !rc; k++) {
        struct pc_segment_record s = sample_seg(0, k, 100, 4096);
        rc = add_blob(w, 0, k, &s, 10000);
    }
    cr_assert_eq(rc, PC_ETOOBIG);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_ETOOBIG);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, "File too large"), "%s", err);
    cr_assert_str_eq(dir_listing(), "title.pcb");
    check_sample(path, 4096, 2, gen, t0, t1);
}

Test(bundle, enospc_surfaces_with_path_and_removes_temp_file)
{
    /* A real full filesystem: a 64 KiB tmpfs, mounted in a private mount
     * namespace that dies with this test's process.  Needs CAP_SYS_ADMIN. */
    if (unshare(CLONE_NEWNS) != 0)
        cr_skip_test("no private mount namespace (needs CAP_SYS_ADMIN)");
    /* source and type are ignored for a propagation change; "none" rather
     * than NULL keeps valgrind from reporting the kernel's unread pointer */
    cr_assert_eq(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
    const char *small = in_dir("small");
    cr_assert_eq(mkdir(small, 0755), 0);
    if (mount("tmpfs", small, "tmpfs", 0, "size=64k") != 0)
        cr_skip_test("cannot mount a tmpfs");

    char path[300];
    snprintf(path, sizeof path, "%s/title.pcb", small);
    struct pc_bundle_writer *w;
    char err[512];
    struct pc_bundle_writer_opts o = { .track_count = 1 };
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), 0, "%s", err);
    struct pc_track_record r;
    describe(&r, 0);
    cr_assert_eq(pc_bundle_writer_set_track(w, 0, &r), 0);
    int rc = add_blob(w, 0, INIT, NULL, 20000);
    for (unsigned k = 0; k < 10 && !rc; k++) {
        struct pc_segment_record s = sample_seg(0, k, 10, 4096);
        rc = add_blob(w, 0, k, &s, 20000);
    }
    cr_assert_eq(rc, PC_ENOSPC);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, err, sizeof err), PC_ENOSPC);
    cr_assert_eq(pc_status_http(PC_ENOSPC), 507);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, "No space left on device"), "%s", err);

    DIR *d = opendir(small);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."),
                  "left behind: %s", e->d_name);
    closedir(d);
    umount(small);
}

/* ------------------------------------------------------ reader basics */

Test(bundle, open_missing_file_is_enoent)
{
    struct pc_bundle b;
    char err[512];
    const char *path = in_dir("absent.pcb");
    cr_assert_eq(pc_bundle_open(&b, path, err, sizeof err), PC_ENOENT);
    cr_assert_not_null(strstr(err, path), "%s", err);
}

Test(bundle, open_fd_closes_fd_on_failure)
{
    const char *path = in_dir("junk");
    write_whole(path, (const uint8_t *)"hello, world", 12);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    struct pc_bundle b;
    char err[256];
    cr_assert_eq(pc_bundle_open_fd(&b, fd, err, sizeof err), PC_EFORMAT);
    cr_assert_eq(fcntl(fd, F_GETFD), -1);
    cr_assert_eq(errno, EBADF);
}

Test(bundle, open_rejects_directory)
{
    struct pc_bundle b;
    char err[256];
    cr_assert_eq(pc_bundle_open(&b, tmpdir, err, sizeof err), PC_EFORMAT);
    cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
}

Test(bundle, close_is_safe_on_zeroed_and_closed_struct)
{
    int before = fcntl(0, F_GETFD);
    struct pc_bundle b;
    memset(&b, 0, sizeof b);
    pc_bundle_close(&b);
    cr_assert_eq(fcntl(0, F_GETFD), before, "fd 0 was not the zeroed bundle's to close");

    const char *path = in_dir("title.pcb");
    write_sample(path, 0, 0, 1);
    cr_assert_eq(pc_bundle_open(&b, path, NULL, 0), 0);
    int fd = b.fd;
    pc_bundle_close(&b);
    cr_assert_eq(fcntl(fd, F_GETFD), -1);
    pc_bundle_close(&b);                            /* twice is fine */
    pc_bundle_close(NULL);
}

Test(bundle, index_size_of_header)
{
    const char *path = in_dir("title.pcb");
    write_sample(path, 0, 0, 3);
    size_t len;
    uint8_t *buf = read_whole(path, &len);
    cr_assert_eq(pc_bundle_index_size(buf, len), 128 + 2 * 256 + 6 * 48);
    cr_assert_eq(pc_bundle_index_size(buf, 128), 128 + 2 * 256 + 6 * 48);
    cr_assert_eq(pc_bundle_index_size(buf, 127), 0);
    buf[0] = 'X';
    cr_assert_eq(pc_bundle_index_size(buf, len), 0);
    free(buf);
}

/* --------------------------------------------------- corrupt fixtures */

#define HDR(buf) ((struct pc_bundle_header *)(void *)(buf))
#define TRK(buf, t) ((struct pc_track_record *)(void *)((buf) + HDR(buf)->track_table_offset) + (t))
#define SEG(buf, t, k) ((struct pc_segment_record *)(void *)((buf) + HDR(buf)->segment_table_offset) \
                        + TRK(buf, t)->segment_first + (k))

/* A valid 2-track, 4-segments-per-track bundle's bytes: index [0, 1024),
 * data from 4096. */
static uint8_t *valid_bytes(size_t *len)
{
    const char *path = in_dir("valid.pcb");
    write_sample(path, 0, 8, 4);
    return read_whole(path, len);
}

static void reseal(uint8_t *buf, size_t len)
{
    uint64_t c = pc_bundle_checksum(buf, len);
    cr_assert_neq(c, 0, "tables not in the buffer: cannot reseal");
    HDR(buf)->checksum = c;
}

/* Both the pure validator and open() on a file refuse @p buf with @p status
 * and a message that contains every given fragment. */
static void expect_rejected(const uint8_t *buf, size_t len, int status, const char *frag1,
                            const char *frag2)
{
    char err[512];
    int rc = pc_bundle_validate(buf, len, len, err, sizeof err);
    cr_assert_eq(rc, status, "validate: got %d (%s), want %d", rc, err, status);
    cr_assert_not_null(strstr(err, frag1), "validate: \"%s\" lacks \"%s\"", err, frag1);
    if (frag2)
        cr_assert_not_null(strstr(err, frag2), "validate: \"%s\" lacks \"%s\"", err, frag2);
    cr_assert_eq(strchr(err, '\n'), NULL, "one line");

    const char *path = in_dir("corrupt.pcb");
    write_whole(path, buf, len);
    struct pc_bundle b;
    memset(&b, 0x5a, sizeof b);
    rc = pc_bundle_open(&b, path, err, sizeof err);
    cr_assert_eq(rc, status, "open: got %d (%s), want %d", rc, err, status);
    cr_assert_not_null(strstr(err, frag1), "open: \"%s\" lacks \"%s\"", err, frag1);
    cr_assert_not_null(strstr(err, path), "open: \"%s\" lacks the path", err);
    unsigned char *raw = (unsigned char *)&b;
    for (size_t i = 0; i < sizeof b; i++)
        cr_assert_eq(raw[i], 0x5a, "a failed open left the struct untouched");
}

Test(bundle, valid_fixture_is_accepted)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    char err[256] = "";
    cr_assert_eq(pc_bundle_validate(buf, len, len, err, sizeof err), 0, "%s", err);
    /* A longer file (appended junk after data_end) is still valid. */
    cr_assert_eq(pc_bundle_validate(buf, len, len + 4096, err, sizeof err), 0, "%s", err);
    free(buf);
}

Test(bundle, rejects_bad_magic)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    buf[3] = 'X';
    expect_rejected(buf, len, PC_EFORMAT, "bad magic: not a pagecast bundle", NULL);
    expect_rejected((const uint8_t *)"GIF89a", 6, PC_EFORMAT, "bad magic", NULL);
    /* A 7-bit-stripped magic is caught by its first byte. */
    buf[3] = 'B';
    buf[0] = 0x09;
    expect_rejected(buf, len, PC_EFORMAT, "bad magic", NULL);
    free(buf);
}

Test(bundle, rejects_version_2)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    HDR(buf)->version = 2;
    expect_rejected(buf, len, PC_EVERSION, "version 2", NULL);
    free(buf);
}

Test(bundle, rejects_truncated_header)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    expect_rejected(buf, 100, PC_ETRUNCATED, "truncated: file is 100 bytes, header needs 128",
                    NULL);
    expect_rejected(buf, 0, PC_ETRUNCATED, "file is 0 bytes", NULL);
    free(buf);
}

Test(bundle, rejects_truncated_tables)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    expect_rejected(buf, 128 + 300, PC_ETRUNCATED, "track table ends at byte 640", NULL);
    expect_rejected(buf, 640 + 100, PC_ETRUNCATED,
                    "truncated: file is 740 bytes, segment table ends at byte 1024", NULL);
    expect_rejected(buf, 1024, PC_ETRUNCATED, "data area starts at byte 4096", NULL);
    free(buf);
}

Test(bundle, rejects_last_blob_past_end_of_file)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    const struct pc_segment_record *last = SEG(buf, 1, 3);
    size_t cut = (size_t)(last->offset + last->size - 1);
    char want[160];
    snprintf(want, sizeof want,
             "segment 3 of track 1 ends at byte %" PRIu64 ", past the end of the file (%zu bytes)",
             last->offset + last->size, cut);
    expect_rejected(buf, cut, PC_ETRUNCATED, want, NULL);

    /* Cut inside the last blob's padding: the blobs are whole, the data
     * area is not. */
    cr_assert_lt(last->offset + last->size, len, "sample's last blob is padded");
    expect_rejected(buf, (size_t)(last->offset + last->size), PC_ETRUNCATED,
                    "data area ends at byte", NULL);
    free(buf);
}

Test(bundle, rejects_checksum_mismatch)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    TRK(buf, 0)->name[0] ^= 0x20;
    expect_rejected(buf, len, PC_ECORRUPT, "checksum mismatch", NULL);
    TRK(buf, 0)->name[0] ^= 0x20;
    HDR(buf)->source_size++;
    expect_rejected(buf, len, PC_ECORRUPT, "checksum mismatch", NULL);
    HDR(buf)->source_size--;
    HDR(buf)->checksum ^= 1;
    expect_rejected(buf, len, PC_ECORRUPT, "checksum mismatch", NULL);
    free(buf);
}

Test(bundle, rejects_misaligned_blob)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    SEG(buf, 1, 2)->offset += 512;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 2 of track 1 starts at byte",
                    "not a multiple of the page size 4096");
    free(buf);

    buf = valid_bytes(&len);
    TRK(buf, 0)->init_offset += 8;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "init segment of track 0", "not a multiple");
    free(buf);
}

Test(bundle, rejects_bad_page_size)
{
    uint32_t bad[] = { 5000, 0, 2048, 4097, 2u << 20, 0x80000000u };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len;
        uint8_t *buf = valid_bytes(&len);
        HDR(buf)->page_size = bad[i];
        char want[32];
        snprintf(want, sizeof want, "page size %u ", bad[i]);
        expect_rejected(buf, len, PC_ECORRUPT, want, "power of two");
        free(buf);
    }
}

Test(bundle, rejects_bad_track_count)
{
    uint32_t bad[] = { 0, 65, 0xffffffffu };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len;
        uint8_t *buf = valid_bytes(&len);
        HDR(buf)->track_count = bad[i];
        char want[32];
        snprintf(want, sizeof want, "track count %u ", bad[i]);
        expect_rejected(buf, len, PC_ECORRUPT, want, NULL);
        free(buf);
    }
}

Test(bundle, rejects_bad_record_sizes)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    HDR(buf)->header_size = 256;
    expect_rejected(buf, len, PC_ECORRUPT, "header size 256", NULL);
    HDR(buf)->header_size = 128;
    HDR(buf)->track_record_size = 255;
    expect_rejected(buf, len, PC_ECORRUPT, "track record size 255", NULL);
    HDR(buf)->track_record_size = 256;
    HDR(buf)->segment_record_size = 56;
    expect_rejected(buf, len, PC_ECORRUPT, "segment record size 56", NULL);
    free(buf);
}

Test(bundle, rejects_bad_table_layout)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    struct pc_bundle_header keep = *HDR(buf);

    HDR(buf)->track_table_offset = 64;
    expect_rejected(buf, len, PC_ECORRUPT, "track table offset 64", "inside the header");
    *HDR(buf) = keep;
    HDR(buf)->segment_table_offset = 644;
    expect_rejected(buf, len, PC_ECORRUPT, "segment table offset 644", "aligned");
    *HDR(buf) = keep;
    HDR(buf)->segment_table_offset = 384;           /* inside the track table */
    expect_rejected(buf, len, PC_ECORRUPT, "overlap", NULL);
    *HDR(buf) = keep;
    HDR(buf)->segment_table_offset = 4096 - 48;     /* runs into the data */
    expect_rejected(buf, len, PC_ECORRUPT, "past the data offset 4096", NULL);
    *HDR(buf) = keep;
    HDR(buf)->data_offset = 4096 + 8;
    expect_rejected(buf, len, PC_ECORRUPT, "data offset 4104", "multiple of the page size");
    *HDR(buf) = keep;
    HDR(buf)->data_offset = 0;
    expect_rejected(buf, len, PC_ECORRUPT, "past the data offset 0", NULL);
    *HDR(buf) = keep;
    HDR(buf)->data_end = 0;
    expect_rejected(buf, len, PC_ECORRUPT, "data end 0", NULL);
    *HDR(buf) = keep;
    HDR(buf)->data_end = len + 1;
    expect_rejected(buf, len, PC_ECORRUPT, "data end", "multiple of the page size");
    free(buf);
}

Test(bundle, rejects_segment_range_outside_table)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    TRK(buf, 1)->segment_first = 5;                 /* [5, 9) of 8 records */
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "track 1: segment records [5, +4)",
                    "outside the segment table (8 records)");
    free(buf);

    buf = valid_bytes(&len);
    TRK(buf, 0)->segment_capacity = 9;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "track 0", "outside the segment table");
    free(buf);
}

Test(bundle, rejects_overlapping_track_ranges)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    /* Track 1 takes records [3, 7): one of them is track 0's. */
    TRK(buf, 1)->segment_first = 3;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "tracks 0 and 1 overlap in the segment table", NULL);
    free(buf);
}

Test(bundle, rejects_count_over_capacity)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    TRK(buf, 0)->segment_count = 5;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "track 0: segment count 5 exceeds its capacity 4",
                    NULL);
    free(buf);
}

Test(bundle, rejects_empty_track_unless_live)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    TRK(buf, 1)->segment_count = 0;
    TRK(buf, 1)->duration = 0;
    TRK(buf, 1)->max_segment_duration = 0;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "track 1 has no segments", NULL);

    /* A live title may have committed nothing yet. */
    HDR(buf)->flags = PC_BUNDLE_LIVE;
    reseal(buf, len);
    char err[256] = "";
    cr_assert_eq(pc_bundle_validate(buf, len, len, err, sizeof err), 0, "%s", err);
    free(buf);
}

Test(bundle, rejects_zero_duration)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    SEG(buf, 0, 1)->duration = 0;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 1 of track 0 has duration 0", NULL);
    free(buf);
}

Test(bundle, rejects_discontinuous_start)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    SEG(buf, 0, 2)->start += 1;
    reseal(buf, len);
    char want[128];
    snprintf(want, sizeof want, "segment 2 of track 0 starts at %" PRIu64 ", expected %" PRIu64,
             seg_start(0, 2, 4) + 1, seg_start(0, 2, 4));
    expect_rejected(buf, len, PC_ECORRUPT, want, "discontinuous");
    free(buf);
}

Test(bundle, rejects_duration_totals_that_disagree)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    TRK(buf, 1)->duration += 1;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "track 1: duration", "sum of its segments");
    free(buf);

    buf = valid_bytes(&len);
    TRK(buf, 0)->max_segment_duration = 1;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "track 0: max segment duration 1", NULL);
    free(buf);
}

Test(bundle, rejects_bad_blob_placement)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    TRK(buf, 0)->init_size = 0;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "init segment of track 0 is empty", NULL);
    free(buf);

    buf = valid_bytes(&len);
    SEG(buf, 0, 0)->offset = 0;                     /* aligned, but the header */
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 0 of track 0 starts at byte 0",
                    "before the data area");
    free(buf);

    buf = valid_bytes(&len);
    /* Swap two segments' places: the track's blobs go backwards. */
    struct pc_segment_record a = *SEG(buf, 0, 1), c = *SEG(buf, 0, 2);
    SEG(buf, 0, 1)->offset = c.offset;
    SEG(buf, 0, 1)->size = c.size;
    SEG(buf, 0, 2)->offset = a.offset;
    SEG(buf, 0, 2)->size = a.size;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 2 of track 0",
                    "before the end of the track's previous blob");
    free(buf);

    buf = valid_bytes(&len);
    /* The init blob after the track's first segment. */
    TRK(buf, 1)->init_offset = SEG(buf, 1, 0)->offset;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 0 of track 1", "previous blob");
    free(buf);

    buf = valid_bytes(&len);
    /* The last blob lies past data_end (though inside the file). */
    HDR(buf)->data_end = SEG(buf, 1, 3)->offset;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 3 of track 1", "past the end of the data area");
    free(buf);

    buf = valid_bytes(&len);
    SEG(buf, 0, 3)->key_size = (uint32_t)SEG(buf, 0, 3)->size + 1;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 3 of track 0", "key frame size");
    free(buf);
}

Test(bundle, rejects_bad_track_descriptor)
{
    for (int i = 0; i < 6; i++) {
        size_t len;
        uint8_t *buf = valid_bytes(&len);
        struct pc_track_record *tr = TRK(buf, 1);
        const char *want = NULL;
        switch (i) {
        case 0: tr->kind = 0;                  want = "track 1: unknown kind 0"; break;
        case 1: tr->codec = 99;                want = "track 1: codec 99"; break;
        case 2: tr->codec = PC_CODEC_H264;     want = "not a codec of kind 2"; break;
        case 3: tr->timescale = 0;             want = "track 1: timescale 0"; break;
        case 4: memset(tr->codecs, 'a', sizeof tr->codecs);
                want = "track 1: codecs string is not NUL-terminated"; break;
        case 5: memset(tr->language, 'a', sizeof tr->language);
                want = "track 1: language is not NUL-terminated"; break;
        }
        reseal(buf, len);
        expect_rejected(buf, len, PC_ECORRUPT, want, NULL);
        free(buf);
    }
}

Test(bundle, rejects_counts_that_overflow_64_bit_arithmetic)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    struct pc_bundle_header keep = *HDR(buf);

    /* capacity * 48 would wrap to a small number without the bound. */
    HDR(buf)->segment_capacity = UINT64_MAX / 48 + 2;
    expect_rejected(buf, len, PC_ECORRUPT, "segment capacity", "exceeds the limit");
    HDR(buf)->segment_capacity = 1ull << 60;
    expect_rejected(buf, len, PC_ECORRUPT, "segment capacity 1152921504606846976", NULL);
    *HDR(buf) = keep;
    HDR(buf)->track_table_offset = UINT64_MAX - 7;
    expect_rejected(buf, len, PC_ECORRUPT, "track table offset", "overflows");
    *HDR(buf) = keep;
    HDR(buf)->segment_table_offset = UINT64_MAX - 7;
    expect_rejected(buf, len, PC_ECORRUPT, "segment table offset", "overflows");
    *HDR(buf) = keep;
    HDR(buf)->data_offset = UINT64_MAX - 4095;
    HDR(buf)->data_end = UINT64_MAX - 4095;
    expect_rejected(buf, len, PC_ETRUNCATED, "data area starts at byte 18446744073709547520", NULL);
    free(buf);

    /* segment_first + capacity wraps around to inside the table */
    buf = valid_bytes(&len);
    TRK(buf, 1)->segment_first = UINT64_MAX - 1;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "track 1", "outside the segment table");
    free(buf);

    buf = valid_bytes(&len);
    TRK(buf, 1)->segment_capacity = UINT64_MAX;
    TRK(buf, 1)->segment_count = UINT64_MAX;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "track 1", "outside the segment table");
    free(buf);

    /* offset + size wraps */
    buf = valid_bytes(&len);
    SEG(buf, 0, 3)->offset = UINT64_MAX & ~4095ull;
    SEG(buf, 0, 3)->size = 8192;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 3 of track 0", "overflows");
    free(buf);

    /* a huge blob inside 64 bits is simply past the end of the file */
    buf = valid_bytes(&len);
    SEG(buf, 0, 3)->size = UINT64_MAX / 2;
    reseal(buf, len);
    expect_rejected(buf, len, PC_ETRUNCATED, "segment 3 of track 0 ends at byte", "past the end");
    free(buf);

    /* start + duration wraps */
    buf = valid_bytes(&len);
    uint64_t s0 = UINT64_MAX - 10;
    for (unsigned k = 0; k < 4; k++) {
        SEG(buf, 1, k)->start = s0;
        s0 += SEG(buf, 1, k)->duration;             /* wraps: never checked again */
    }
    reseal(buf, len);
    expect_rejected(buf, len, PC_ECORRUPT, "segment 0 of track 1", "overflows");
    free(buf);
}

Test(bundle, every_truncation_is_rejected_as_truncated)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    uint64_t idx = pc_bundle_index_size(buf, len);
    cr_assert_gt(idx, 128);
    char err[256];

    for (size_t L = 0; L <= len; L++) {
        /* Exactly the bytes a reader of an L-byte file would have mapped:
         * an exact-size copy lets ASan see any read past them. */
        size_t n = L < idx ? L : (size_t)idx;
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        int rc = pc_bundle_validate(copy, n, L, err, sizeof err);
        if (L < len)
            cr_assert_eq(rc, PC_ETRUNCATED, "length %zu: %d %s", L, rc, err);
        else
            cr_assert_eq(rc, 0, "complete file: %s", err);
        if (L >= 128)
            cr_assert_eq(pc_bundle_index_size(copy, n), idx);
        else
            cr_assert_eq(pc_bundle_index_size(copy, n), 0);
        free(copy);
    }
    /* A buffer shorter than the index, for a complete file. */
    for (size_t n = 0; n < idx; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        cr_assert_eq(pc_bundle_validate(copy, n, len, err, sizeof err), PC_ETRUNCATED,
                     "buffer %zu", n);
        free(copy);
    }
    free(buf);
}

Test(bundle, every_byte_of_index_is_protected)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    uint64_t idx = pc_bundle_index_size(buf, len);
    char err[256];
    for (size_t i = 0; i < idx; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            int rc = pc_bundle_validate(buf, len, len, err, sizeof err);
            cr_assert_neq(rc, 0, "flipping bit %d of byte %zu went unnoticed", bit, i);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    cr_assert_eq(pc_bundle_validate(buf, len, len, err, sizeof err), 0);
    free(buf);
}

Test(bundle, resealed_mutations_never_crash)
{
    /* Like a fuzzer that knows the checksum: every byte of the index set to
     * a few hostile values, resealed, validated on an exact-size copy. */
    size_t len;
    uint8_t *ref = valid_bytes(&len);
    uint64_t idx = pc_bundle_index_size(ref, len);
    static const uint8_t vals[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
    char err[256];
    unsigned accepted = 0;
    for (size_t i = 0; i < idx; i++) {
        if (i >= 120 && i < 128)
            continue;                               /* the checksum itself */
        for (size_t v = 0; v < sizeof vals; v++) {
            /* Only the index, as open() maps it; the file is len bytes. */
            uint8_t *buf = malloc(idx);
            memcpy(buf, ref, idx);
            buf[i] = vals[v];
            uint64_t c = pc_bundle_checksum(buf, idx);
            if (c)
                HDR(buf)->checksum = c;
            int rc = pc_bundle_validate(buf, idx, len, err, sizeof err);
            if (rc == 0) {
                accepted++;
                cr_assert_eq(pc_bundle_index_size(buf, idx), idx);
            } else {
                cr_assert(rc == PC_EFORMAT || rc == PC_EVERSION || rc == PC_ECORRUPT ||
                          rc == PC_ETRUNCATED, "byte %zu = %u: status %d", i, vals[v], rc);
                cr_assert_neq(err[0], '\0');
            }
            free(buf);
        }
    }
    /* Harmless bytes exist (names, bitrates, sample counts): not all fail. */
    cr_assert_gt(accepted, 0);
    free(ref);
}

Test(bundle, validate_rejects_buffer_longer_than_file)
{
    size_t len;
    uint8_t *buf = valid_bytes(&len);
    char err[256];
    cr_assert_eq(pc_bundle_validate(buf, len, len - 1, err, sizeof err), PC_EINVAL);
    cr_assert_eq(pc_bundle_validate(NULL, 0, 0, err, sizeof err), PC_ETRUNCATED);
    free(buf);
}

/* ------------------------------------------------------------ JSON dump */

static char *dump(const char *path, size_t *n)
{
    struct pc_bundle b;
    char err[256];
    char *text = NULL;
    cr_assert_eq(pc_bundle_open(&b, path, err, sizeof err), 0, "%s", err);
    FILE *f = open_memstream(&text, n);
    cr_assert_eq(pc_bundle_dump_json(&b, f), 0);
    fclose(f);
    pc_bundle_close(&b);
    return text;
}

Test(bundle, dump_json_describes_every_field)
{
    const char *path = in_dir("title.pcb");
    uint64_t gen = write_sample(path, 0, 4, 2);
    size_t n;
    char *j = dump(path, &n);
    struct pc_bundle b;
    cr_assert_eq(pc_bundle_open(&b, path, NULL, 0), 0);

    char want[512];
    snprintf(want, sizeof want,
             "{\"version\":1,\"page_size\":4096,\"generation\":\"%016" PRIx64 "\","
             "\"created_unix_ms\":%" PRIu64 ",\"live\":false,\"file_size\":%" PRIu64 ","
             "\"data_offset\":4096,\"data_end\":%" PRIu64 ","
             "\"source\":{\"count\":2,\"size\":123456789,\"stat_hash\":\"1122334455667788\","
             "\"content_hash\":\"99aabbccddeeff00\"},\"tracks\":[",
             gen, b.hdr->created_unix_ms, b.file_size, b.file_size);
    cr_assert_eq(strncmp(j, want, strlen(want)), 0, "got:  %.300s\nwant: %s", j, want);

    const struct pc_track_record *v = &b.tracks[0], *a = &b.tracks[1];
    snprintf(want, sizeof want,
             "{\"index\":0,\"kind\":\"video\",\"codec\":\"h264\",\"codecs\":\"avc1.64001f\","
             "\"language\":\"und\",\"name\":\"Main video\",\"timescale\":90000,"
             "\"width\":1920,\"height\":1080,\"frame_rate\":\"25/1\",\"sar\":\"1:1\","
             "\"group\":0,\"default\":true,\"bitrate_peak\":%" PRIu64 ",\"bitrate_avg\":%" PRIu64
             ",\"duration\":9.000000,\"init\":{\"offset\":%" PRIu64 ",\"size\":700},"
             "\"segments\":[{\"offset\":%" PRIu64 ",\"size\":4096,\"start\":0.000000,"
             "\"duration\":6.000000,\"start_ts\":0,\"duration_ts\":540000,\"samples\":150,"
             "\"key\":true,\"key_size\":50},",
             v->bitrate_peak, v->bitrate_avg, v->init_offset, b.segments[0].offset);
    cr_assert_not_null(strstr(j, want), "missing: %s\nin: %s", want, j);

    snprintf(want, sizeof want,
             "{\"index\":1,\"kind\":\"audio\",\"codec\":\"aac\",\"codecs\":\"mp4a.40.2\","
             "\"language\":\"en\",\"name\":\"English\",\"timescale\":48000,"
             "\"sample_rate\":48000,\"channels\":2,\"group\":1,\"default\":true,"
             "\"bitrate_peak\":%" PRIu64 ",\"bitrate_avg\":%" PRIu64 ",\"duration\":9.021333,",
             a->bitrate_peak, a->bitrate_avg);
    cr_assert_not_null(strstr(j, want), "missing: %s\nin: %s", want, j);
    /* audio starts at 1024/48000 s */
    cr_assert_not_null(strstr(j, "\"start\":0.021333,\"duration\":6.000000,\"start_ts\":1024,"
                                 "\"duration_ts\":288000,\"samples\":281,\"key\":true,"
                                 "\"key_size\":0}"), "%s", j);
    cr_assert_geq(n, 6);
    cr_assert_str_eq(j + n - 6, "}]}]}\n");
    pc_bundle_close(&b);
    free(j);
}

Test(bundle, dump_json_escapes_strings)
{
    const char *path = in_dir("esc.pcb");
    struct pc_bundle_writer *w;
    struct pc_bundle_writer_opts o = { .track_count = 1 };
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, NULL, 0), 0);
    struct pc_track_record r;
    memset(&r, 0, sizeof r);
    r.kind = PC_KIND_TEXT;
    r.codec = PC_CODEC_WEBVTT;
    r.timescale = 1000;
    strcpy(r.codecs, "wvtt");
    strcpy(r.language, "fr");
    strcpy(r.name, "a \"q\" b\\c\nd\x01\x1f\t\xc3\xa9");
    cr_assert_eq(pc_bundle_writer_set_track(w, 0, &r), 0);
    cr_assert_eq(add_blob(w, 0, INIT, NULL, 40), 0);
    struct pc_segment_record s = { .start = 1, .duration = 1 };
    cr_assert_eq(add_blob(w, 0, 0, &s, 40), 0);
    cr_assert_eq(pc_bundle_writer_commit(w, NULL, NULL, 0), 0);

    size_t n;
    char *j = dump(path, &n);
    cr_assert_not_null(strstr(j, "\"name\":\"a \\\"q\\\" b\\\\c\\nd\\u0001\\u001f\\t\xc3\xa9\""),
                       "%s", j);
    cr_assert_not_null(strstr(j, "\"kind\":\"text\",\"codec\":\"webvtt\""), "%s", j);
    /* text tracks carry neither picture nor sound fields */
    cr_assert_null(strstr(j, "\"width\""), "%s", j);
    cr_assert_null(strstr(j, "\"sample_rate\""), "%s", j);
    cr_assert_not_null(strstr(j, "\"start\":0.001000,\"duration\":0.001000"), "%s", j);
    cr_assert_not_null(strstr(j, "\"key\":false"), "%s", j);
    free(j);
}

Test(bundle, dump_json_reports_write_errors)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        cr_skip_test("no /dev/full");
    const char *path = in_dir("title.pcb");
    write_sample(path, 0, 0, 1);
    struct pc_bundle b;
    cr_assert_eq(pc_bundle_open(&b, path, NULL, 0), 0);
    cr_assert_eq(pc_bundle_dump_json(&b, f), PC_EIO);
    fclose(f);
    pc_bundle_close(&b);
}

/* ---------------------------------------------------------- fingerprint */

Test(bundle, fnv1a_known_vectors)
{
    /* Reference values from the FNV authors' test suite. */
    cr_assert_eq(pc_fnv1a(PC_FNV_INIT, "", 0), 0xcbf29ce484222325ull);
    cr_assert_eq(pc_fnv1a(PC_FNV_INIT, "a", 1), 0xaf63dc4c8601ec8cull);
    cr_assert_eq(pc_fnv1a(PC_FNV_INIT, "foobar", 6), 0x85944171f73967e8ull);
    /* Incremental == one shot */
    cr_assert_eq(pc_fnv1a(pc_fnv1a(PC_FNV_INIT, "foo", 3), "bar", 3), 0x85944171f73967e8ull);
}

static void make_file(const char *path, size_t n, unsigned seed, time_t mtime)
{
    uint8_t *b = blob(seed, 0, n);
    write_whole(path, b, n);
    free(b);
    struct timespec ts[2] = { { mtime, 0 }, { mtime, 123456789 } };
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static uint64_t le64_hash(uint64_t h, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    return pc_fnv1a(h, le, 8);
}

Test(bundle, fingerprint_follows_its_definition)
{
    char a[256], b[256];
    snprintf(a, sizeof a, "%s", in_dir("a.mp4"));
    snprintf(b, sizeof b, "%s", in_dir("b.mkv"));
    make_file(a, 100, 1, 1700000000);
    make_file(b, 200000, 2, 1600000000);
    const char *paths[] = { a, b };
    struct pc_fingerprint fp;
    char err[256];

    cr_assert_eq(pc_fingerprint_files(paths, 2, 0, &fp, err, sizeof err), 0, "%s", err);
    uint64_t sh = PC_FNV_INIT;
    sh = le64_hash(sh, 100);
    sh = le64_hash(sh, 1700000000);
    sh = le64_hash(sh, 123456789);
    sh = le64_hash(sh, 200000);
    sh = le64_hash(sh, 1600000000);
    sh = le64_hash(sh, 123456789);
    cr_assert_eq(fp.count, 2);
    cr_assert_eq(fp.size, 200100);
    cr_assert_eq(fp.stat_hash, sh);
    cr_assert_eq(fp.content_hash, 0);

    cr_assert_eq(pc_fingerprint_files(paths, 2, 1, &fp, err, sizeof err), 0, "%s", err);
    uint8_t *da = blob(1, 0, 100), *db = blob(2, 0, 200000);
    uint64_t ch = PC_FNV_INIT;
    ch = pc_fnv1a(ch, da, 100);                     /* small file: all of it, twice */
    ch = pc_fnv1a(ch, da, 100);
    ch = pc_fnv1a(ch, db, 65536);
    ch = pc_fnv1a(ch, db + 200000 - 65536, 65536);
    cr_assert_eq(fp.stat_hash, sh);
    cr_assert_eq(fp.content_hash, ch);

    /* The middle of a large file is not part of the content hash... */
    db[100000] ^= 0xff;
    write_whole(b, db, 200000);
    struct timespec ts[2] = { { 1600000000, 0 }, { 1600000000, 123456789 } };
    cr_assert_eq(utimensat(AT_FDCWD, b, ts, 0), 0);
    struct pc_fingerprint fp2;
    cr_assert_eq(pc_fingerprint_files(paths, 2, 1, &fp2, err, sizeof err), 0);
    cr_assert_eq(fp2.content_hash, ch);
    cr_assert_eq(fp2.stat_hash, sh);
    /* ...its ends are, and so is its mtime. */
    db[10] ^= 0xff;
    write_whole(b, db, 200000);
    cr_assert_eq(pc_fingerprint_files(paths, 2, 1, &fp2, err, sizeof err), 0);
    cr_assert_neq(fp2.content_hash, ch);
    cr_assert_neq(fp2.stat_hash, sh);
    free(da);
    free(db);

    /* Order matters. */
    const char *rev[] = { b, a };
    struct pc_fingerprint fwd, bwd;
    cr_assert_eq(pc_fingerprint_files(paths, 2, 1, &fwd, err, sizeof err), 0);
    cr_assert_eq(pc_fingerprint_files(rev, 2, 1, &bwd, err, sizeof err), 0);
    cr_assert_eq(fwd.size, bwd.size);
    cr_assert_neq(fwd.stat_hash, bwd.stat_hash);
    cr_assert_neq(fwd.content_hash, bwd.content_hash);

    /* No inputs: the empty hash. */
    cr_assert_eq(pc_fingerprint_files(NULL, 0, 1, &fp2, err, sizeof err), 0);
    cr_assert_eq(fp2.count, 0);
    cr_assert_eq(fp2.size, 0);
    cr_assert_eq(fp2.stat_hash, PC_FNV_INIT);
}

Test(bundle, fingerprint_names_the_failing_path)
{
    char a[256], missing[256];
    snprintf(a, sizeof a, "%s", in_dir("a.mp4"));
    snprintf(missing, sizeof missing, "%s", in_dir("missing.mp4"));
    make_file(a, 10, 1, 1700000000);
    const char *paths[] = { a, missing };
    struct pc_fingerprint fp = { .count = 77 };
    char err[512], want[512];
    snprintf(want, sizeof want, "%s: No such file or directory", missing);
    for (int content = 0; content < 2; content++) {
        cr_assert_eq(pc_fingerprint_files(paths, 2, content, &fp, err, sizeof err), PC_ENOENT);
        cr_assert_str_eq(err, want);
        cr_assert_eq(fp.count, 77, "untouched on failure");
    }
    const char *dir[] = { tmpdir };
    cr_assert_eq(pc_fingerprint_files(dir, 1, 1, &fp, err, sizeof err), PC_EMEDIA);
    cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
}
