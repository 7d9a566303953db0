package web

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
	"sync"
)

// The logo as the bitmaps browsers ask for by name: /favicon.ico (16 and
// 32 pixels, PNG images in an ICO container) and /apple-touch-icon.png
// (180 pixels). Drawn here rather than kept as binary files: a rounded
// square in the brand blue holding two linked rings. /static/favicon.svg
// is the same picture for browsers that take SVG.

var brandBlue = color.RGBA{0x0b, 0x57, 0xd0, 0xff}

// logo draws the logo size pixels square, each pixel sampled 4x4 times.
func logo(size int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	const n = 4
	s := float64(size)
	for y := range size {
		for x := range size {
			var bg, ring int
			for sy := range n {
				for sx := range n {
					// The point in a 0..1 square.
					px := (float64(x) + (float64(sx)+.5)/n) / s
					py := (float64(y) + (float64(sy)+.5)/n) / s
					if !inRoundedSquare(px, py, .22) {
						continue
					}
					bg++
					if onRing(px, py, .39, .5) || onRing(px, py, .61, .5) {
						ring++
					}
				}
			}
			if bg == 0 {
				continue
			}
			// White over blue by the ring's share, the whole by the
			// square's (premultiplied alpha).
			a := float64(bg) / (n * n)
			w := float64(ring) / float64(bg)
			mix := func(c uint8) uint8 { return uint8(math.Round((float64(c)*(1-w) + 255*w) * a)) }
			img.SetRGBA(x, y, color.RGBA{mix(brandBlue.R), mix(brandBlue.G), mix(brandBlue.B), uint8(math.Round(255 * a))})
		}
	}
	return img
}

// inRoundedSquare reports whether (x, y) lies in the unit square with
// corners rounded to radius r.
func inRoundedSquare(x, y, r float64) bool {
	cx := math.Max(r, math.Min(1-r, x))
	cy := math.Max(r, math.Min(1-r, y))
	return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
}

// onRing reports whether (x, y) lies on a ring centred at (cx, cy).
func onRing(x, y, cx, cy float64) bool {
	d := math.Hypot(x-cx, y-cy)
	return d >= .15 && d <= .23
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding to memory does not fail
	}
	return b.Bytes()
}

// appleTouchIcon is the 180-pixel PNG.
var appleTouchIcon = sync.OnceValue(func() []byte { return encodePNG(logo(180)) })

// faviconICO is an ICO file holding the 16- and 32-pixel PNGs.
var faviconICO = sync.OnceValue(func() []byte {
	images := [][]byte{encodePNG(logo(16)), encodePNG(logo(32))}
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	le([3]uint16{0, 1, uint16(len(images))}) // reserved, type (icon), count
	offset := 6 + 16*len(images)
	for i, data := range images {
		size := uint8(16 << i)
		le([4]uint8{size, size, 0, 0}) // width, height, palette, reserved
		le([2]uint16{1, 32})           // colour planes, bits per pixel
		le([2]uint32{uint32(len(data)), uint32(offset)})
		offset += len(data)
	}
	for _, data := range images {
		b.Write(data)
	}
	return b.Bytes()
})
