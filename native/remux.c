/* nvr_edge.camera._remux: one camera's RTSP packets into fMP4 segments without a Python
 * object per packet.
 *
 * The per-packet path of the recorder (camera/recorder.py) in C, over the system's
 * libavformat: read, timestamp repair (camera/timestamps.py: decode times filled in at a
 * stream's start, small backward steps nudged, jumps detected), picture-less access units
 * dropped (camera/access_unit.py), mux into the open segment, fsync once per fragment,
 * the live relay's current GOP kept and, while someone watches, handed over. The loop
 * runs without the GIL and comes up to Python only when a decision is due: a video
 * keyframe (cut or not, picture size), a timestamp jump (new segment), the end of the
 * stream. Python opens and finishes the segment files (names, preallocation, rename) and
 * owns every policy; this file owns no file name and makes no cut on its own.
 *
 * Threads: run() is called by one thread (the reader). The live outbox, the arrivals the
 * stall monitor needs and abandon() may be used from another; they take `lock`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>

#define MAX_HELD 8          /* timestamps.MAX_HELD_WITHOUT_DTS */
#define PICTURE_WINDOW 512  /* access_unit.WINDOW */
#define MAX_GOP 1500        /* live/forwarder.MAX_GOP_PACKETS */
#define MAX_OUTBOX 3000     /* live packets not yet taken by the worker's main thread */
#define IO_BUFFER 65536
#define POOL_SIZE 128       /* a GOP's packets come back at each keyframe */

enum { EV_FIRST = 1, EV_KEYFRAME = 2, EV_JUMP = 3, EV_END = 4, EV_ABANDONED = 5 };
enum { AUDIO_NONE = 0, AUDIO_COPY = 1, AUDIO_DROP = 2 };

typedef struct {
    AVPacket **items;
    int count, cap;
} PacketList;

typedef struct {
    int64_t dts;
    double wall;
    int set;
} LastStamp;

typedef struct {
    PyObject_HEAD
    AVFormatContext *in;
    int vi, ai;                 /* input stream indexes; -1: none */
    int audio_mode;
    int codec;                  /* 1 h264, 2 hevc, 0 other */
    int length_prefixed;
    double tick[2];             /* seconds per tick: video, audio */
    int64_t default_duration[2];
    /* timestamp repair */
    PacketList held[2];
    int started[2];
    LastStamp last[2];
    double max_nudge_s, jump_tolerance_s;
    AVPacket **ready;           /* repaired, in order; ready[ready_at] may wait for Python */
    int ready_count, ready_at, ready_cap;
    int decided;                /* Python has seen ready[ready_at]'s event */
    /* output */
    AVFormatContext *out;
    AVIOContext *pb;
    int fd;
    int64_t pos, written;
    int out_audio;              /* the output has an audio track */
    double fragment_s, last_sync;
    int64_t last_video_pts;
    int have_last_video_pts;
    double frame_s;
    /* counters (read by any thread; exact once run() returned) */
    long long received, written_packets, before_first_keyframe, no_picture, audio_dropped,
        rejected, video_frames, bytes, syncs;
    char error[256];            /* the last muxer refusal, for the log */
    long long errors;
    /* shared with other threads */
    pthread_mutex_t lock;
    atomic_int abandoned;
    int keep_gop, tap, outbox_skipping;
    PacketList gop, outbox;
    double late_s, last_arrival;
    double now;                 /* monotonic arrival of the last packet read: one clock read
                                   per packet serves the stall, jump and fsync checks */
    int in_late;
    double *notable;            /* (previous arrival, arrival) pairs the stall monitor needs */
    int notable_count, notable_cap;
    int closed;
    /* AVPacket structs for reuse: only the reader thread (run() and what it calls) uses it */
    AVPacket *pool[POOL_SIZE];
    int pooled;
} Session;

static double monotonic_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double wall_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int list_push(PacketList *list, AVPacket *pkt) {
    if (list->count == list->cap) {
        int cap = list->cap ? list->cap * 2 : 64;
        AVPacket **items = realloc(list->items, sizeof(*items) * cap);
        if (!items) {
            av_packet_free(&pkt);
            return -1;
        }
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = pkt;
    return 0;
}

static void list_clear(PacketList *list) {
    for (int i = 0; i < list->count; i++)
        av_packet_free(&list->items[i]);
    list->count = 0;
}

static void list_free(PacketList *list) {
    list_clear(list);
    free(list->items);
    list->items = NULL;
    list->cap = 0;
}

/* A packet struct from the session's pool (the reader thread's only). */
static AVPacket *pkt_new(Session *s) {
    return s->pooled ? s->pool[--s->pooled] : av_packet_alloc();
}

static void pkt_drop(Session *s, AVPacket **pkt) {
    if (!*pkt)
        return;
    av_packet_unref(*pkt);
    if (s->pooled < POOL_SIZE) {
        s->pool[s->pooled++] = *pkt;
        *pkt = NULL;
    } else {
        av_packet_free(pkt);
    }
}

static AVPacket *pkt_clone(Session *s, const AVPacket *src) {
    AVPacket *copy = pkt_new(s);
    if (copy && av_packet_ref(copy, src) < 0)
        av_packet_free(&copy);
    return copy;
}

static void list_drop(Session *s, PacketList *list) {
    for (int i = 0; i < list->count; i++)
        pkt_drop(s, &list->items[i]);
    list->count = 0;
}

static int interrupt_cb(void *opaque) {
    return atomic_load(&((Session *)opaque)->abandoned);
}

/* -- pictures (access_unit.py) ------------------------------------------------------ */

static int is_vcl(int codec, uint8_t header) {
    if (codec == 1) {
        int t = header & 0x1F;
        return t >= 1 && t <= 5;
    }
    if (codec == 2)
        return ((header >> 1) & 0x3F) <= 31;
    return 1;
}

static int has_picture(const Session *s, const AVPacket *pkt) {
    if (!s->codec || pkt->size > PICTURE_WINDOW)
        return 1;
    const uint8_t *d = pkt->data;
    int n = pkt->size;
    if (s->length_prefixed) {
        int at = 0;
        while (at + 4 < n) {
            uint32_t len = (d[at] << 24) | (d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3];
            if (!len)
                return 0;
            if (is_vcl(s->codec, d[at + 4]))
                return 1;
            at += 4 + len;
        }
        return 0;
    }
    for (int i = 0; i + 3 < n; i++) {
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
            if (is_vcl(s->codec, d[i + 3]))
                return 1;
            i += 2;
        }
    }
    return 0;
}

/* -- the live relay --------------------------------------------------------------------- */

static void live_feed(Session *s, const AVPacket *pkt, int audio) {
    if (!s->keep_gop && !s->tap)
        return;
    int keyframe = !audio && (pkt->flags & AV_PKT_FLAG_KEY);
    pthread_mutex_lock(&s->lock);
    if (s->tap) {
        if (s->outbox.count >= MAX_OUTBOX) {
            /* nobody took them for ~30 s: start again at a keyframe, never mid-GOP */
            list_drop(s, &s->outbox);
            s->outbox_skipping = 1;
        }
        if (keyframe)
            s->outbox_skipping = 0;
        AVPacket *copy = s->outbox_skipping ? NULL : pkt_clone(s, pkt);
        if (copy)
            list_push(&s->outbox, copy);
    }
    if (s->keep_gop) {
        if (keyframe)
            list_drop(s, &s->gop);
        if (keyframe || (s->gop.count && s->gop.count < MAX_GOP)) {
            AVPacket *copy = pkt_clone(s, pkt);
            if (copy)
                list_push(&s->gop, copy);
        } else {
            list_drop(s, &s->gop);  /* no keyframe yet, or a GOP too long to be a head start */
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* -- timestamps (timestamps.py) ------------------------------------------------------- */

static void ready_add(Session *s, AVPacket *pkt) {
    if (s->ready_count == s->ready_cap) {
        int cap = s->ready_cap ? s->ready_cap * 2 : 16;
        AVPacket **grown = realloc(s->ready, sizeof(*grown) * cap);
        if (!grown) {
            av_packet_free(&pkt);
            return;
        }
        s->ready = grown;
        s->ready_cap = cap;
    }
    s->ready[s->ready_count++] = pkt;
}

/* Backfill.push: hold packets without a dts until one of the same stream gives a reference. */
static void backfill(Session *s, AVPacket *pkt, int k) {
    PacketList *held = &s->held[k];
    if (pkt->dts == AV_NOPTS_VALUE && pkt->pts == AV_NOPTS_VALUE) {
        list_push(held, pkt);
        return;
    }
    if (pkt->dts == AV_NOPTS_VALUE && !s->started[k] && held->count < MAX_HELD) {
        list_push(held, pkt);
        return;
    }
    s->started[k] = 1;
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    if (pkt->pts == AV_NOPTS_VALUE)
        pkt->pts = pkt->dts;
    int64_t step = pkt->duration ? pkt->duration : s->default_duration[k];
    int n = held->count;
    for (int i = 0; i < n; i++) {
        AVPacket *h = held->items[i];
        h->dts = pkt->dts - (int64_t)(n - i) * step;
        if (h->pts == AV_NOPTS_VALUE || h->pts < h->dts)
            h->pts = h->dts;
        if (!h->duration)
            h->duration = step;
        ready_add(s, h);
    }
    held->count = 0;
    ready_add(s, pkt);
}

/* JumpDetector.is_jump: nudges small backward steps, 1 when the dts jumped. */
static int is_jump(Session *s, AVPacket *pkt, int k, double wall) {
    LastStamp prev = s->last[k];
    double tb = s->tick[k];
    if (prev.set && pkt->dts <= prev.dts && (prev.dts - pkt->dts) * tb <= s->max_nudge_s) {
        pkt->dts = prev.dts + 1;
        if (pkt->pts < pkt->dts)
            pkt->pts = pkt->dts;
    }
    s->last[k].dts = pkt->dts;
    s->last[k].wall = wall;
    s->last[k].set = 1;
    if (!prev.set)
        return 0;
    if (pkt->dts <= prev.dts)
        return 1;
    double ahead = (pkt->dts - prev.dts) * tb - (wall - prev.wall);
    return ahead > s->jump_tolerance_s;
}

/* -- muxing --------------------------------------------------------------------------- */

static int io_write(void *opaque, uint8_t *buf, int size) {
    Session *s = opaque;
    int left = size;
    while (left > 0) {
        ssize_t n = write(s->fd, buf, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return AVERROR(errno);
        }
        buf += n;
        left -= n;
    }
    s->pos += size;
    if (s->pos > s->written)
        s->written = s->pos;
    return size;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence) {
    Session *s = opaque;
    if (whence == AVSEEK_SIZE)
        return s->written;
    off_t at = lseek(s->fd, offset, whence & ~AVSEEK_FORCE);
    if (at < 0)
        return AVERROR(errno);
    s->pos = at;
    return at;
}

static void note_error(Session *s, int err) {
    char text[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, text, sizeof(text));
    snprintf(s->error, sizeof(s->error), "%s", text);
    s->errors++;
}

static void track_frame(Session *s, const AVPacket *pkt) {
    if (s->have_last_video_pts) {
        double step = (pkt->pts - s->last_video_pts) * s->tick[0];
        if (step > 0 && step < 1)
            s->frame_s = step;
    }
    s->last_video_pts = pkt->pts;
    s->have_last_video_pts = 1;
}

/* Write one repaired packet into the open segment; takes `pkt`. */
static void mux(Session *s, AVPacket *pkt, int k) {
    if (k == 0) {
        track_frame(s, pkt);
        s->video_frames++;
    }
    if (k == 1 && (s->audio_mode != AUDIO_COPY || !s->out_audio)) {
        s->audio_dropped++;
        pkt_drop(s, &pkt);
        return;
    }
    int size = pkt->size;
    AVStream *in = s->in->streams[k == 0 ? s->vi : s->ai];
    AVStream *out = s->out->streams[k == 0 ? 0 : 1];
    av_packet_rescale_ts(pkt, in->time_base, out->time_base);
    pkt->stream_index = out->index;
    pkt->pos = -1;
    int err = av_interleaved_write_frame(s->out, pkt);
    pkt_drop(s, &pkt);
    if (err < 0) {
        s->rejected++;  /* a muxer refusal must never end the recording */
        note_error(s, err);
    } else {
        s->written_packets++;
        s->bytes += size;
    }
    double now = s->now;
    if (now - s->last_sync >= s->fragment_s) {
        avio_flush(s->pb);
        if (fsync(s->fd) == 0)
            s->syncs++;
        s->last_sync = now;
    }
}

static void close_output(Session *s) {
    if (!s->out)
        return;
    if (s->pb)
        av_freep(&s->pb->buffer);
    avio_context_free(&s->pb);
    avformat_free_context(s->out);
    s->out = NULL;
    s->fd = -1;
}

/* -- the Python type ------------------------------------------------------------------ */

static void Session_dealloc(Session *s) {
    close_output(s);
    for (int k = 0; k < 2; k++)
        list_free(&s->held[k]);
    for (int i = s->ready_at; i < s->ready_count; i++)
        av_packet_free(&s->ready[i]);
    free(s->ready);
    while (s->pooled)
        av_packet_free(&s->pool[--s->pooled]);
    list_free(&s->gop);
    list_free(&s->outbox);
    free(s->notable);
    if (s->in)
        avformat_close_input(&s->in);
    pthread_mutex_destroy(&s->lock);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyObject *Session_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    Session *s = (Session *)type->tp_alloc(type, 0);
    if (!s)
        return NULL;
    s->vi = s->ai = -1;
    s->fd = -1;
    s->frame_s = 1.0 / 30;
    s->fragment_s = 1.0;
    s->max_nudge_s = 1.0;
    s->jump_tolerance_s = 3.0;
    s->late_s = 1e9;
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->abandoned, 0);
    return (PyObject *)s;
}

static PyObject *raise_av(int err, const char *what) {
    char text[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, text, sizeof(text));
    PyErr_Format(PyExc_OSError, "%s: %s", what, text);
    return NULL;
}

static int dict_from_py(PyObject *mapping, AVDictionary **out) {
    PyObject *key, *value;
    Py_ssize_t at = 0;
    if (!mapping || mapping == Py_None)
        return 0;
    if (!PyDict_Check(mapping)) {
        PyErr_SetString(PyExc_TypeError, "options must be a dict of str to str");
        return -1;
    }
    while (PyDict_Next(mapping, &at, &key, &value)) {
        const char *k = PyUnicode_AsUTF8(key), *v = PyUnicode_AsUTF8(value);
        if (!k || !v)
            return -1;
        av_dict_set(out, k, v, 0);
    }
    return 0;
}

/* open(url, options, audio_mode) -> None: connects (without the GIL) and finds the streams. */
static PyObject *Session_open(Session *s, PyObject *args) {
    const char *url;
    PyObject *options;
    int audio_wanted;
    if (!PyArg_ParseTuple(args, "sOp", &url, &options, &audio_wanted))
        return NULL;
    if (s->in) {
        PyErr_SetString(PyExc_RuntimeError, "the session is already open");
        return NULL;
    }
    AVDictionary *opts = NULL;
    if (dict_from_py(options, &opts) < 0) {
        av_dict_free(&opts);
        return NULL;
    }
    AVFormatContext *in = avformat_alloc_context();
    in->interrupt_callback.callback = interrupt_cb;
    in->interrupt_callback.opaque = s;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = avformat_open_input(&in, url, NULL, &opts);
    if (err >= 0)
        err = avformat_find_stream_info(in, NULL);
    Py_END_ALLOW_THREADS
    av_dict_free(&opts);
    if (err < 0) {
        avformat_close_input(&in);
        return raise_av(err, "cannot open the stream");
    }
    s->in = in;
    s->vi = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (s->vi < 0) {
        s->vi = -1;
        Py_RETURN_NONE;
    }
    s->ai = audio_wanted ? av_find_best_stream(in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) : -1;
    if (s->ai < 0)
        s->ai = -1;
    for (unsigned i = 0; i < in->nb_streams; i++)
        if ((int)i != s->vi && (int)i != s->ai)
            in->streams[i]->discard = AVDISCARD_ALL;
    AVStream *v = in->streams[s->vi];
    s->codec = v->codecpar->codec_id == AV_CODEC_ID_H264 ? 1
             : v->codecpar->codec_id == AV_CODEC_ID_HEVC ? 2 : 0;
    s->length_prefixed = v->codecpar->extradata_size > 0 && v->codecpar->extradata[0] == 1;
    s->tick[0] = av_q2d(v->time_base);
    AVRational rate = v->avg_frame_rate.num ? v->avg_frame_rate : v->r_frame_rate;
    if (rate.num && rate.den)
        s->frame_s = av_q2d(av_inv_q(rate));
    s->default_duration[0] = FFMAX(1, llrint(s->frame_s / s->tick[0]));
    if (s->ai >= 0) {
        s->tick[1] = av_q2d(in->streams[s->ai]->time_base);
        s->default_duration[1] = 1024;
    }
    Py_RETURN_NONE;
}

static PyObject *stream_dict(AVStream *st) {
    AVCodecParameters *p = st->codecpar;
    const char *name = avcodec_get_name(p->codec_id);
    AVRational rate = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    return Py_BuildValue(
        "{s:s,s:(ii),s:i,s:i,s:y#,s:i,s:i,s:(ii)}", "codec", name, "time_base",
        st->time_base.num, st->time_base.den, "width", p->width, "height", p->height,
        "extradata", (const char *)p->extradata, (Py_ssize_t)p->extradata_size,
        "sample_rate", p->sample_rate, "channels", p->ch_layout.nb_channels, "rate",
        rate.num, rate.den);
}

/* streams() -> (video dict or None, audio dict or None) */
static PyObject *Session_streams(Session *s, PyObject *unused) {
    if (!s->in)
        return Py_BuildValue("(OO)", Py_None, Py_None);
    PyObject *v = s->vi >= 0 ? stream_dict(s->in->streams[s->vi]) : Py_NewRef(Py_None);
    PyObject *a = s->ai >= 0 ? stream_dict(s->in->streams[s->ai]) : Py_NewRef(Py_None);
    return Py_BuildValue("(NN)", v, a);
}

/* configure(audio_mode, fragment_s, late_s, max_nudge_s, jump_tolerance_s, keep_gop) */
static PyObject *Session_configure(Session *s, PyObject *args) {
    int keep_gop;
    if (!PyArg_ParseTuple(args, "iddddp", &s->audio_mode, &s->fragment_s, &s->late_s,
                          &s->max_nudge_s, &s->jump_tolerance_s, &keep_gop))
        return NULL;
    pthread_mutex_lock(&s->lock);
    s->keep_gop = keep_gop;
    if (!keep_gop)
        list_clear(&s->gop);
    pthread_mutex_unlock(&s->lock);
    Py_RETURN_NONE;
}

static int set_extradata(AVCodecParameters *p, PyObject *extradata) {
    char *data;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(extradata, &data, &size) < 0)
        return -1;
    av_freep(&p->extradata);
    p->extradata = av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!p->extradata) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(p->extradata, data, size);
    p->extradata_size = size;
    return 0;
}

/* open_segment(fd, metadata, options, audio, width, height, extradata or None): starts a
 * segment in `fd` (a new file Python opened); writes its header. */
static PyObject *Session_open_segment(Session *s, PyObject *args) {
    int fd, audio, width, height;
    PyObject *metadata, *options, *extradata;
    if (!PyArg_ParseTuple(args, "iOOpiiO", &fd, &metadata, &options, &audio, &width, &height,
                          &extradata))
        return NULL;
    if (!s->in || s->vi < 0) {
        PyErr_SetString(PyExc_RuntimeError, "no input to record");
        return NULL;
    }
    if (s->out) {
        PyErr_SetString(PyExc_RuntimeError, "a segment is already open");
        return NULL;
    }
    AVDictionary *meta = NULL, *opts = NULL;
    if (dict_from_py(metadata, &meta) < 0 || dict_from_py(options, &opts) < 0)
        goto fail_dicts;
    AVFormatContext *out = NULL;
    int err = avformat_alloc_output_context2(&out, NULL, "mp4", NULL);
    if (err < 0) {
        av_dict_free(&meta);
        av_dict_free(&opts);
        return raise_av(err, "no mp4 muxer");
    }
    out->metadata = meta;
    AVStream *v = avformat_new_stream(out, NULL);
    avcodec_parameters_copy(v->codecpar, s->in->streams[s->vi]->codecpar);
    v->codecpar->codec_tag = 0;
    v->time_base = s->in->streams[s->vi]->time_base;
    if (width > 0 && height > 0) {
        v->codecpar->width = width;
        v->codecpar->height = height;
    }
    if (extradata != Py_None && set_extradata(v->codecpar, extradata) < 0) {
        avformat_free_context(out);
        av_dict_free(&opts);
        return NULL;
    }
    s->out_audio = 0;
    if (audio && s->ai >= 0 && s->audio_mode == AUDIO_COPY) {
        AVStream *a = avformat_new_stream(out, NULL);
        avcodec_parameters_copy(a->codecpar, s->in->streams[s->ai]->codecpar);
        a->codecpar->codec_tag = 0;
        a->time_base = s->in->streams[s->ai]->time_base;
        s->out_audio = 1;
    }
    unsigned char *buffer = av_malloc(IO_BUFFER);
    s->fd = fd;
    s->pos = s->written = 0;
    s->pb = avio_alloc_context(buffer, IO_BUFFER, 1, s, NULL, io_write, io_seek);
    out->pb = s->pb;
    out->flags |= AVFMT_FLAG_CUSTOM_IO;
    s->out = out;
    Py_BEGIN_ALLOW_THREADS
    err = avformat_write_header(out, &opts);
    Py_END_ALLOW_THREADS
    av_dict_free(&opts);
    if (err < 0) {
        close_output(s);
        return raise_av(err, "cannot start the segment");
    }
    s->last_sync = monotonic_s();
    Py_RETURN_NONE;
fail_dicts:
    av_dict_free(&meta);
    av_dict_free(&opts);
    return NULL;
}

/* close_segment() -> bytes written (the file's length; Python truncates, fsyncs, renames) */
static PyObject *Session_close_segment(Session *s, PyObject *unused) {
    if (!s->out) {
        PyErr_SetString(PyExc_RuntimeError, "no segment is open");
        return NULL;
    }
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = av_write_trailer(s->out);  /* the last fragment and the mfra index */
    avio_flush(s->pb);
    Py_END_ALLOW_THREADS
    if (err < 0)
        note_error(s, err);
    long long written = s->written;
    close_output(s);
    return PyLong_FromLongLong(written);
}

/* The stall monitor's view of arrivals: each late packet and the first on time after late
 * ones, as (previous arrival, arrival) pairs; the rest only move `last_arrival`. */
static void note_arrival(Session *s, double now) {
    pthread_mutex_lock(&s->lock);
    double gap = now - s->last_arrival;
    if (s->last_arrival > 0 && (gap > s->late_s || s->in_late)) {
        if (s->notable_count + 2 > s->notable_cap) {
            int cap = s->notable_cap ? s->notable_cap * 2 : 16;
            double *grown = realloc(s->notable, sizeof(double) * cap);
            if (grown) {
                s->notable = grown;
                s->notable_cap = cap;
            }
        }
        if (s->notable_count + 2 <= s->notable_cap) {
            s->notable[s->notable_count++] = s->last_arrival;
            s->notable[s->notable_count++] = now;
        }
        s->in_late = gap > s->late_s;
    }
    s->last_arrival = now;
    pthread_mutex_unlock(&s->lock);
}

/* A packet read: counted, offered to the live relay, repaired; 1 when packets are ready. */
static int take(Session *s, AVPacket *pkt) {
    int k = pkt->stream_index == s->vi ? 0 : 1;
    note_arrival(s, s->now = monotonic_s());
    s->received++;
    live_feed(s, pkt, k);
    if (k == 0 && pkt->size <= PICTURE_WINDOW && !has_picture(s, pkt)) {
        s->no_picture++;
        return 0;
    }
    AVPacket *own = pkt_new(s);
    if (!own)
        return 0;
    av_packet_move_ref(own, pkt);
    s->ready_count = s->ready_at = 0;
    backfill(s, own, k);
    return s->ready_count > 0;
}

static int is_parameter_set(int codec, uint8_t header) {
    if (codec == 1)
        return (header & 0x1F) == 7 || (header & 0x1F) == 8;
    int t = (header >> 1) & 0x3F;
    return codec == 2 && t >= 32 && t <= 34;
}

/* The keyframe's in-band parameter sets, each behind a 00 00 00 01 (b"" when none): the
 * recorder compares them with the last keyframe's and reads the picture size only when
 * they changed (picture_shape.py parses the whole keyframe). */
static PyObject *parameter_sets(const Session *s, const AVPacket *pkt) {
    const uint8_t *d = pkt->data;
    int n = pkt->size, at = 0;
    uint8_t *out = av_malloc(2 * (size_t)n + 16);  /* a 3-byte start code becomes 4 */
    int len = 0;
    if (!out)
        return PyErr_NoMemory();
    while (s->codec && at < n) {
        int start, end;
        if (s->length_prefixed) {
            if (at + 4 >= n)
                break;
            uint32_t size = (d[at] << 24) | (d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3];
            start = at + 4;
            end = size > (uint32_t)(n - start) ? n : start + (int)size;
            at = end;
        } else {
            int i = at;
            while (i + 2 < n && !(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1))
                i++;
            if (i + 3 >= n)
                break;
            start = i + 3;
            int j = start;
            while (j + 2 < n && !(d[j] == 0 && d[j + 1] == 0 && d[j + 2] == 1))
                j++;
            end = j + 2 < n ? j : n;
            at = end;
        }
        if (end > start && is_parameter_set(s->codec, d[start])) {
            memcpy(out + len, "\0\0\0\1", 4);
            memcpy(out + len + 4, d + start, end - start);
            len += 4 + end - start;
        }
        if (end <= start && !s->length_prefixed)
            at = start;
    }
    PyObject *result = PyBytes_FromStringAndSize((const char *)out, len);
    av_free(out);
    return result;
}

static PyObject *event(Session *s, int kind, AVPacket *pkt, double wall) {
    int k = pkt->stream_index == s->vi ? 0 : 1;
    int key = k == 0 && (pkt->flags & AV_PKT_FLAG_KEY);
    PyObject *data = key ? PyBytes_FromStringAndSize((const char *)pkt->data, pkt->size)
                         : Py_NewRef(Py_None);
    PyObject *params = key ? parameter_sets(s, pkt) : Py_NewRef(Py_None);
    return Py_BuildValue("(iiLdNN)", kind, k == 0, (long long)pkt->pts, wall, data, params);
}

/* run() -> (event, is_video, pts, wall_s, keyframe bytes, its parameter sets) (both None
 * for other packets) | (EV_END or EV_ABANDONED, error or None)
 *
 * Reads and writes until Python must decide: EV_FIRST (a video keyframe and no segment
 * open: open one), EV_KEYFRAME (cut here or not), EV_JUMP (timestamps jumped: close the
 * segment, open another). The packet of the event is written at the next run(), into
 * whatever segment is open then. Packets before the first keyframe are counted, not kept. */
static PyObject *Session_run(Session *s, PyObject *unused) {
    if (!s->in || s->vi < 0) {
        PyErr_SetString(PyExc_RuntimeError, "the session is not open");
        return NULL;
    }
    AVPacket *pkt = av_packet_alloc();
    int result = 0, err = 0;
    AVPacket *decide = NULL;
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        if (s->ready_at < s->ready_count) {
            AVPacket *p = s->ready[s->ready_at];
            int k = p->stream_index == s->vi ? 0 : 1;
            int key = k == 0 && (p->flags & AV_PKT_FLAG_KEY);
            if (!s->decided) {
                /* the jump detector compares stream time with the time packets arrive */
                if (!s->out) {
                    if (!key) {
                        s->before_first_keyframe++;
                        pkt_drop(s, &s->ready[s->ready_at++]);
                        continue;
                    }
                    decide = p;
                    result = EV_FIRST;
                    break;
                }
                if (is_jump(s, p, k, s->now)) {
                    decide = p;
                    result = EV_JUMP;
                    break;
                }
                if (key) {
                    decide = p;
                    result = EV_KEYFRAME;
                    break;
                }
            }
            s->decided = 0;
            s->ready[s->ready_at++] = NULL;
            if (s->out)
                mux(s, p, k);
            else
                pkt_drop(s, &p);  /* Python left no segment open */
            continue;
        }
        if (atomic_load(&s->abandoned)) {
            result = EV_ABANDONED;
            break;
        }
        err = av_read_frame(s->in, pkt);
        if (err < 0) {
            result = atomic_load(&s->abandoned) ? EV_ABANDONED : EV_END;
            break;
        }
        if ((pkt->stream_index != s->vi && pkt->stream_index != s->ai) || !pkt->size) {
            av_packet_unref(pkt);
            continue;
        }
        take(s, pkt);
        av_packet_unref(pkt);
    }
    Py_END_ALLOW_THREADS
    av_packet_free(&pkt);
    if (decide) {
        s->decided = 1;
        return event(s, result, decide, wall_s());
    }
    if (result == EV_END && err != AVERROR_EOF) {
        char text[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(err, text, sizeof(text));
        return Py_BuildValue("(is)", result, text);
    }
    return Py_BuildValue("(iO)", result, Py_None);
}

/* Python's answer to EV_FIRST / EV_JUMP: the jump detector starts over from the packet. */
static PyObject *Session_reset_timestamps(Session *s, PyObject *unused) {
    memset(s->last, 0, sizeof(s->last));
    s->have_last_video_pts = 0;
    if (s->decided && s->ready_at < s->ready_count) {
        AVPacket *p = s->ready[s->ready_at];
        int k = p->stream_index == s->vi ? 0 : 1;
        is_jump(s, p, k, s->now);
    }
    Py_RETURN_NONE;
}

static PyObject *Session_abandon(Session *s, PyObject *unused) {
    atomic_store(&s->abandoned, 1);
    Py_RETURN_NONE;
}

/* set_tap(on): while on, every packet is also put in the live outbox; turning it on puts
 * the kept GOP there first (the first viewer starts on a keyframe at once). */
static PyObject *Session_set_tap(Session *s, PyObject *args) {
    int on;
    if (!PyArg_ParseTuple(args, "p", &on))
        return NULL;
    pthread_mutex_lock(&s->lock);
    if (on && !s->tap) {
        for (int i = 0; i < s->gop.count; i++) {
            AVPacket *copy = av_packet_clone(s->gop.items[i]);
            if (copy)
                list_push(&s->outbox, copy);
        }
    }
    if (!on)
        list_clear(&s->outbox);
    s->tap = on;
    pthread_mutex_unlock(&s->lock);
    Py_RETURN_NONE;
}

static PyObject *opt_ts(int64_t ts) {
    return ts == AV_NOPTS_VALUE ? Py_NewRef(Py_None) : PyLong_FromLongLong(ts);
}

/* take_live() -> [(is_audio, keyframe, pts, dts, duration, bytes)] */
static PyObject *Session_take_live(Session *s, PyObject *unused) {
    PacketList taken = {0};
    pthread_mutex_lock(&s->lock);
    taken = s->outbox;
    s->outbox = (PacketList){0};
    pthread_mutex_unlock(&s->lock);
    PyObject *list = PyList_New(taken.count);
    for (int i = 0; list && i < taken.count; i++) {
        AVPacket *p = taken.items[i];
        int audio = p->stream_index != s->vi;
        PyObject *item = Py_BuildValue(
            "(OONNLy#)", audio ? Py_True : Py_False,
            !audio && (p->flags & AV_PKT_FLAG_KEY) ? Py_True : Py_False, opt_ts(p->pts),
            opt_ts(p->dts), (long long)p->duration, (const char *)p->data,
            (Py_ssize_t)p->size);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    list_free(&taken);
    return list;
}

/* take_arrivals() -> (last arrival, [(previous arrival, arrival)] of late packets and of the
 * first packet on time after them): what the stall monitor must see, in order. */
static PyObject *Session_take_arrivals(Session *s, PyObject *unused) {
    pthread_mutex_lock(&s->lock);
    PyObject *list = PyList_New(s->notable_count / 2);
    for (int i = 0; list && i < s->notable_count / 2; i++)
        PyList_SET_ITEM(list, i, Py_BuildValue("(dd)", s->notable[2 * i],
                                               s->notable[2 * i + 1]));
    s->notable_count = 0;
    double last = s->last_arrival;
    pthread_mutex_unlock(&s->lock);
    if (!list)
        return NULL;
    return Py_BuildValue("(dN)", last, list);
}

static PyObject *Session_counters(Session *s, PyObject *unused) {
    return Py_BuildValue(
        "{s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L}", "received", s->received, "written",
        s->written_packets, "before_first_keyframe", s->before_first_keyframe, "no_picture",
        s->no_picture, "audio_dropped", s->audio_dropped, "rejected", s->rejected,
        "video_frames", s->video_frames, "bytes", s->bytes, "syncs", s->syncs);
}

static PyObject *Session_refusal(Session *s, PyObject *unused) {
    return Py_BuildValue("(Ls)", s->errors, s->error);
}

static PyObject *Session_last_video(Session *s, PyObject *unused) {
    if (!s->have_last_video_pts)
        return Py_BuildValue("(Od)", Py_None, s->frame_s);
    return Py_BuildValue("(dd)", s->last_video_pts * s->tick[0], s->frame_s);
}

static PyObject *Session_tick(Session *s, PyObject *args) {
    int video;
    if (!PyArg_ParseTuple(args, "p", &video))
        return NULL;
    return PyFloat_FromDouble(s->tick[video ? 0 : 1]);
}

static PyMethodDef Session_methods[] = {
    {"open", (PyCFunction)Session_open, METH_VARARGS, "connect and find the streams"},
    {"streams", (PyCFunction)Session_streams, METH_NOARGS, "(video, audio) as dicts"},
    {"configure", (PyCFunction)Session_configure, METH_VARARGS, "set the session's limits"},
    {"open_segment", (PyCFunction)Session_open_segment, METH_VARARGS, "start a segment"},
    {"close_segment", (PyCFunction)Session_close_segment, METH_NOARGS, "finish a segment"},
    {"run", (PyCFunction)Session_run, METH_NOARGS, "record until a decision is due"},
    {"reset_timestamps", (PyCFunction)Session_reset_timestamps, METH_NOARGS,
     "the jump detector starts over"},
    {"abandon", (PyCFunction)Session_abandon, METH_NOARGS, "make run() return soon"},
    {"set_tap", (PyCFunction)Session_set_tap, METH_VARARGS, "live packets wanted or not"},
    {"take_live", (PyCFunction)Session_take_live, METH_NOARGS, "the live packets so far"},
    {"take_arrivals", (PyCFunction)Session_take_arrivals, METH_NOARGS,
     "arrivals for the stall monitor"},
    {"counters", (PyCFunction)Session_counters, METH_NOARGS, "packet counters"},
    {"refusal", (PyCFunction)Session_refusal, METH_NOARGS, "(refusals, last reason)"},
    {"last_video", (PyCFunction)Session_last_video, METH_NOARGS,
     "(last written video pts in s or None, frame duration s)"},
    {"tick", (PyCFunction)Session_tick, METH_VARARGS, "seconds per tick of a stream"},
    {NULL},
};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "nvr_edge.camera._remux.Session",
    .tp_basicsize = sizeof(Session),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "one RTSP session recorded into fMP4 segments",
    .tp_new = Session_new,
    .tp_dealloc = (destructor)Session_dealloc,
    .tp_methods = Session_methods,
};

static PyObject *versions(PyObject *self, PyObject *unused) {
    unsigned f = avformat_version(), c = avcodec_version();
    return Py_BuildValue("{s:s,s:(iii),s:(iii)}", "ffmpeg", av_version_info(), "libavformat",
                         f >> 16, (f >> 8) & 0xFF, f & 0xFF, "libavcodec", c >> 16,
                         (c >> 8) & 0xFF, c & 0xFF);
}

/* repair(packets, ticks, default_durations, max_nudge_s, jump_tolerance_s) ->
 *     [(stream, pts, dts, duration, jumped)]
 * The engine's timestamp repair alone, on made-up packets (stream 0 video, 1 audio; pts and
 * dts None for missing; a wall time each), in the order it releases them: what the tests
 * compare with camera/timestamps.py. */
static PyObject *repair(PyObject *self, PyObject *args) {
    PyObject *items, *out = NULL;
    Session *s = NULL;
    if (!(s = (Session *)Session_new(&SessionType, NULL, NULL)))
        return NULL;
    if (!PyArg_ParseTuple(args, "O!(dd)(LL)dd", &PyList_Type, &items, &s->tick[0], &s->tick[1],
                          &s->default_duration[0], &s->default_duration[1], &s->max_nudge_s,
                          &s->jump_tolerance_s))
        goto done;
    s->vi = 0;
    s->ai = 1;
    if (!(out = PyList_New(0)))
        goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        int k;
        PyObject *pts, *dts;
        long long duration;
        double wall;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(items, i), "iOOLd", &k, &pts, &dts, &duration,
                              &wall)) {
            Py_CLEAR(out);
            goto done;
        }
        AVPacket *pkt = av_packet_alloc();
        pkt->stream_index = k;
        pkt->pts = pts == Py_None ? AV_NOPTS_VALUE : PyLong_AsLongLong(pts);
        pkt->dts = dts == Py_None ? AV_NOPTS_VALUE : PyLong_AsLongLong(dts);
        pkt->duration = duration;
        s->ready_count = s->ready_at = 0;
        backfill(s, pkt, k);
        for (int r = 0; r < s->ready_count; r++) {
            AVPacket *p = s->ready[r];
            int jumped = is_jump(s, p, p->stream_index, wall);
            PyObject *row = Py_BuildValue("(iLLLO)", p->stream_index, (long long)p->pts,
                                          (long long)p->dts, (long long)p->duration,
                                          jumped ? Py_True : Py_False);
            av_packet_free(&s->ready[r]);
            if (!row || PyList_Append(out, row) < 0) {
                Py_XDECREF(row);
                Py_CLEAR(out);
                goto done;
            }
            Py_DECREF(row);
        }
        s->ready_count = 0;
    }
done:
    Py_DECREF(s);
    return out;
}

/* arrivals(times, late_s) -> take_arrivals()'s answer after packets arrived at `times`:
 * what the tests compare with a stall monitor that saw every packet. */
static PyObject *arrivals(PyObject *self, PyObject *args) {
    PyObject *times;
    double late_s;
    if (!PyArg_ParseTuple(args, "O!d", &PyList_Type, &times, &late_s))
        return NULL;
    Session *s = (Session *)Session_new(&SessionType, NULL, NULL);
    if (!s)
        return NULL;
    s->late_s = late_s;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(times); i++) {
        double t = PyFloat_AsDouble(PyList_GET_ITEM(times, i));
        if (t == -1.0 && PyErr_Occurred()) {
            Py_DECREF(s);
            return NULL;
        }
        note_arrival(s, t);
    }
    PyObject *result = Session_take_arrivals(s, NULL);
    Py_DECREF(s);
    return result;
}

static PyMethodDef module_methods[] = {
    {"arrivals", arrivals, METH_VARARGS, "the stall monitor's arrivals alone, for tests"},
    {"versions", versions, METH_NOARGS, "the FFmpeg this module runs on"},
    {"repair", repair, METH_VARARGS, "the timestamp repair alone, for tests"},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_remux", "RTSP to fMP4 without a Python object per packet", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__remux(void) {
    if (PyType_Ready(&SessionType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    av_log_set_level(AV_LOG_ERROR);
    avformat_network_init();
    Py_INCREF(&SessionType);
    PyModule_AddObject(m, "Session", (PyObject *)&SessionType);
    PyModule_AddIntConstant(m, "FIRST", EV_FIRST);
    PyModule_AddIntConstant(m, "KEYFRAME", EV_KEYFRAME);
    PyModule_AddIntConstant(m, "JUMP", EV_JUMP);
    PyModule_AddIntConstant(m, "END", EV_END);
    PyModule_AddIntConstant(m, "ABANDONED", EV_ABANDONED);
    PyModule_AddIntConstant(m, "AUDIO_NONE", AUDIO_NONE);
    PyModule_AddIntConstant(m, "AUDIO_COPY", AUDIO_COPY);
    PyModule_AddIntConstant(m, "AUDIO_DROP", AUDIO_DROP);
    return m;
}
