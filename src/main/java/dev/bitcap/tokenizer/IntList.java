package dev.bitcap.tokenizer;

import java.util.Arrays;

/** A growable list of ints, so token ids are collected without boxing. */
final class IntList {
    private int[] values;
    private int size;

    IntList() {
        this(16);
    }

    IntList(int capacity) {
        values = new int[Math.max(4, capacity)];
    }

    void add(int value) {
        if (size == values.length) values = Arrays.copyOf(values, values.length * 2);
        values[size++] = value;
    }

    void addAll(int[] more) {
        addAll(more, more.length);
    }

    void addAll(int[] more, int count) {
        if (size + count > values.length) values = Arrays.copyOf(values, Math.max(values.length * 2, size + count));
        System.arraycopy(more, 0, values, size, count);
        size += count;
    }

    int get(int index) {
        return values[index];
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    void clear() {
        size = 0;
    }

    int[] toArray() {
        return Arrays.copyOf(values, size);
    }
}
