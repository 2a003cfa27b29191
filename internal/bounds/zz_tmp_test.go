package bounds_test
import ("testing";"time";"sort";"fmt")
func TestZZTime(t *testing.T){
 type e struct{d, od time.Duration; s string}
 var es []e
 for _, j := range oracleJourneys(320, 1<<21) { o:=newOracle(j); st:=time.Now(); o.bounds(); od:=time.Since(st); st=time.Now(); analyze(t,j); es=append(es, e{time.Since(st), od, describeJourney(j)}) }
 sort.Slice(es, func(a,b int)bool{return es[a].d>es[b].d})
 var tot, otot time.Duration; for _,x:=range es{tot+=x.d; otot+=x.od}
 fmt.Println(tot, otot); for _,x:=range es[:5]{fmt.Printf("%v %v %s\n",x.d,x.od, x.s)}
}
