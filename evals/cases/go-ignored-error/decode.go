package decode

import "encoding/json"

type Order struct {
	ID    string  `json:"id"`
	Total float64 `json:"total"`
}

func ParseOrder(data []byte) Order {
	var o Order
	json.Unmarshal(data, &o)
	return o
}
