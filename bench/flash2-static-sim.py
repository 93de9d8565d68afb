"""Checks, without a GPU, two pieces of the flash2 kernels that the compiler cannot: (1) flash_prefill2.cu's
ldmatrix addresses, taken as one per-lane offset XORed with kk << 5, equal the swizzled position of every fragment
row and chunk, and every 8-row phase hits 8 distinct 16-byte bank groups; (2) seer_gate.cu's gate_pick radix
select, run lane by lane as the warp does, picks exactly the blocks a (score, index) sort picks (ties to the later
block), on random rows with many ties. Run: python3 bench/flash2-static-sim.py (prints "swizzle ok", "radix ok")."""
import random, struct
# 1) swizzle address identities of flash_prefill2.cu
for D in (64,128):
    RB=D*2; CH=D//8
    swz=lambda r,c:(r*D+((c^(r&7))<<3))*2
    lo=lambda row,b,lane: row*RB+((b^(lane&7))<<4)
    for WR in (16,32):
        for warp in range(64//WR):
            for lane in range(32):
                aOff=lo(warp*WR+(lane&15),lane>>4,lane); vOff=lo(lane&15,lane>>4,lane); kOff=lo((lane&7)+(lane>>4)*8,(lane>>3)&1,lane)
                for kk in range(D//16):
                    for mt in range(WR//16):
                        r=warp*WR+mt*16+(lane&7)+((lane>>3)&1)*8; c=kk*2+(lane>>4)
                        assert (aOff^(kk<<5))+mt*16*RB==swz(r,c)
                    for n16 in range(4):
                        key=n16*16+(lane&7)+(lane>>4)*8; c=kk*2+((lane>>3)&1)
                        assert (kOff^(kk<<5))+n16*16*RB==swz(key,c)
                for dp in range(D//16):
                    for kk in range(4):
                        key=kk*16+(lane&7)+((lane>>3)&1)*8; c=dp*2+(lane>>4)
                        assert (vOff^(dp<<5))+kk*16*RB==swz(key,c)
    # bank check: each 8-lane phase of an ldmatrix hits distinct 16B bank groups
    for r0 in range(0,64,8):
        for c in range(CH):
            groups={(swz(r0+i,c)//16)%8 for i in range(8)}
            assert len(groups)==8
print("swizzle ok")
# 2) gate_pick radix select, lane-by-lane
def orderable(f):
    u=struct.unpack('<I',struct.pack('<f',f))[0]
    return (~u)&0xffffffff if u&0x80000000 else u|0x80000000
def pick(s,n,k):
    prefix=0;mask=0;remaining=k
    for shift in (24,16,8,0):
        hist=[0]*256
        for j in range(1,n-1):
            u=orderable(s[j])
            if (u&mask)==prefix: hist[(u>>shift)&255]+=1
        local=[[hist[255-8*L-x] for x in range(8)] for L in range(32)]
        tot=[sum(l) for l in local]
        incl=[sum(tot[:L+1]) for L in range(32)]
        mine=[incl[L]-tot[L]<remaining<=incl[L] for L in range(32)]
        src=mine.index(True)
        cum=incl[src]-tot[src]
        for x in range(8):
            if cum+local[src][x]>=remaining: digit=255-8*src-x; above=cum; break
            cum+=local[src][x]
        remaining-=above; prefix|=digit<<shift; mask|=255<<shift
    out=[j for j in range(1,n-1) if orderable(s[j])>prefix]
    taken=0; top=n-2
    while top>=1 and taken<remaining:
        eq=[(top-L>=1 and orderable(s[top-L])==prefix) for L in range(32)]
        for L in range(32):
            if eq[L] and taken<remaining: out.append(top-L); taken+=1
        top-=32
    return sorted([0,n-1]+out)
def sortpick(s,n,count):
    keys=sorted(range(n),key=lambda j:((0xffffffff if j in (0,n-1) else orderable(s[j])),j),reverse=True)
    return sorted(keys[:count])
random.seed(1)
for t in range(3000):
    n=random.randint(3,300)
    kind=random.random()
    if kind<0.3: s=[float(random.randint(-3,3)) for _ in range(n)]   # many ties
    elif kind<0.5: s=[struct.unpack('<f',struct.pack('<f',random.gauss(0,1)))[0] for _ in range(n)]
    else: s=[struct.unpack('<f',struct.pack('<f',random.choice([-1,1])*random.random()*1e-3))[0] for _ in range(n)]
    d=random.random(); budget=max(min(2,n),min(n,int(d*n+0.5))); k=budget-2
    if k<=0 or k>=n-2: continue
    assert pick(s,n,k)==sortpick(s,n,budget),(n,k)
print("radix ok")
