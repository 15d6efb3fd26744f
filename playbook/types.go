package playbook

import "reflect"

var anySliceType = reflect.TypeOf([]any{})
