package keys

// crc16Table is CRC16-CCITT (XMODEM: poly 0x1021, init 0), the checksum Redis
// Cluster uses to map keys to slots.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^c]
	}
	return crc
}

// Slot returns the Redis Cluster hash slot of key, honouring hash tags: if the
// key contains '{' followed later by '}' with at least one byte between them,
// only the bytes between the first '{' and the next '}' are hashed.
func Slot(key []byte) uint16 {
	for i, c := range key {
		if c == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						return crc16(key[i+1:j]) & (NumSlots - 1)
					}
					break
				}
			}
			break
		}
	}
	return crc16(key) & (NumSlots - 1)
}
