package s3api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"strongroom/internal/objects"
)

// Object tagging: GetObjectTagging, PutObjectTagging, DeleteObjectTagging
// and the x-amz-tagging header of PutObject, CopyObject (with
// x-amz-tagging-directive REPLACE) and CreateMultipartUpload.

// InvalidTag is S3's answer to a tag set it does not accept.
var InvalidTag = ErrorCode{"InvalidTag", http.StatusBadRequest, "The tag provided was not a valid tag."}

// maxTaggingBody bounds the XML of PutObjectTagging: ten tags of the
// longest keys and values fit many times over.
const maxTaggingBody = 64 << 10

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  []tag    `xml:"TagSet>Tag"`
}

type tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// tagsHeader parses x-amz-tagging ("k1=v1&k2=v2", URL-encoded); nil if
// the header is absent.
func tagsHeader(h http.Header) (map[string]string, error) {
	v := h.Get("x-amz-tagging")
	if v == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, InvalidArgument.New("x-amz-tagging must be URL-encoded key=value pairs joined by &.")
	}
	tags := map[string]string{}
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, InvalidTag.New(fmt.Sprintf("Cannot provide multiple Tags with the same key %q.", k))
		}
		tags[k] = vs[0]
	}
	return tags, nil
}

// tagError answers a tag set the objects service refused: InvalidTag for
// the S3 rules, AccessDenied (with the clause) for a card number.
func tagError(err error) error {
	if errors.Is(err, objects.ErrBadTag) {
		return InvalidTag.Wrap(err, "")
	}
	return err
}

func (q *request) getObjectTagging() {
	tags, err := q.h.Objects.ObjectTags(q.r.Context(), q.bucket, q.key)
	if err != nil {
		q.fail(err)
		return
	}
	out := tagging{Xmlns: s3NS, TagSet: []tag{}}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out.TagSet = append(out.TagSet, tag{Key: k, Value: tags[k]})
	}
	q.writeXML(out)
}

func (q *request) putObjectTagging() {
	body, _, ok := q.body()
	if !ok {
		return
	}
	b, err := io.ReadAll(io.LimitReader(body, maxTaggingBody+1))
	if err != nil {
		q.fail(err)
		return
	}
	if len(b) > maxTaggingBody {
		q.fail(MalformedXML.New(fmt.Sprintf("The tagging document is larger than %d bytes.", maxTaggingBody)))
		return
	}
	var in tagging
	if err := xml.Unmarshal(b, &in); err != nil {
		q.fail(MalformedXML.New(""))
		return
	}
	tags := map[string]string{}
	for _, t := range in.TagSet {
		if _, dup := tags[t.Key]; dup {
			q.fail(InvalidTag.New(fmt.Sprintf("Cannot provide multiple Tags with the same key %q.", t.Key)))
			return
		}
		tags[t.Key] = t.Value
	}
	if err := q.h.Objects.SetObjectTags(q.r.Context(), q.bucket, q.key, tags); err != nil {
		q.fail(tagError(err))
		return
	}
	q.w.WriteHeader(http.StatusOK)
}

func (q *request) deleteObjectTagging() {
	if err := q.h.Objects.SetObjectTags(q.r.Context(), q.bucket, q.key, nil); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}
